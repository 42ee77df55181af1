/*
 * sanitizers.h - which sanitizer a test is built with, for the checks of
 * resident memory that a sanitizer's own memory would fail. ASan keeps
 * freed memory in quarantine and a shadow byte per 8; TSan shadows each
 * byte the process touches with several, and keeps that shadow when the
 * process gives the memory back. The tests then check looser bounds
 * (ASan) or print their figures without checking them (TSan).
 */
#ifndef HEAPD_TESTS_SANITIZERS_H
#define HEAPD_TESTS_SANITIZERS_H

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

#endif
