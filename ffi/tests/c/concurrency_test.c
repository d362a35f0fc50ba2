/*
 * Concurrency and leak test of the lutfilter C API (driven by ffi/tests/c_programs.rs; run by
 * hand under valgrind and the sanitizers, see docs/robustness.md).
 *
 * Usage: concurrency_test [CONTAINER|- [THREADS [ROUNDS [CYCLES]]]]
 *   CONTAINER  a .lut file, or - (default) for the container embedded in the library
 *   THREADS    worker pthreads sharing one context (default 8)
 *   ROUNDS     passes of every worker over every picture (default 3)
 *   CYCLES     open/filter/close cycles of the memory check (default 2000; 0 skips it)
 *
 * 1. Six pictures of different sizes and chroma formats (int16_t, 10 bit, strides wider than
 *    the planes) are filtered once on the main thread: the reference.
 * 2. THREADS pthreads filter them all again through ONE shared context, each in its own order,
 *    whole planes, CTU by CTU or in strips, into their own buffers, while the main thread keeps
 *    changing the context's worker-thread count; every result must equal the reference. Each
 *    worker also makes a failing call and checks that lutf_last_error() holds its own message.
 * 3. CYCLES times: open a context (from memory, or the embedded default), filter, close; VmRSS
 *    (Linux /proc/self/status) after the first tenth and at the end must stay flat (checked
 *    from 100 cycles on; set LUTF_RSS_REPORT_ONLY=1 to only report it, e.g. under valgrind).
 */
#define _POSIX_C_SOURCE 200809L

#include "lutfilter.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPIC 6
#define QP 37

typedef struct {
    int width, height, chroma_format;
    int16_t *planes[3];
    intptr_t strides[3];
    int pw[3], ph[3];
    lutf_picture pic;
    int16_t *ref[3]; /* reference output, packed (stride = width) */
    int32_t ref_status[3];
} picture_buf;

typedef struct {
    const lutf_ctx *ctx;
    picture_buf *pics;
    int index, rounds;
    long mismatches, failures, calls;
} worker;

static uint32_t next_random(uint32_t *state) {
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static void picture_init(picture_buf *p, int width, int height, int format, uint32_t seed) {
    int c, x, y;
    memset(p, 0, sizeof *p);
    p->width = width;
    p->height = height;
    p->chroma_format = format;
    for (c = 0; c < 3; c++) {
        int w = width, h = height;
        if (c > 0) {
            if (format == LUTF_CHROMA_400) break;
            if (format != LUTF_CHROMA_444) w = (width + 1) / 2;
            if (format == LUTF_CHROMA_420) h = (height + 1) / 2;
        }
        p->pw[c] = w;
        p->ph[c] = h;
        p->strides[c] = w + 7 + c;
        p->planes[c] = (int16_t *)xmalloc((size_t)p->strides[c] * (size_t)h * sizeof(int16_t));
        for (y = 0; y < h; y++) {
            for (x = 0; x < p->strides[c]; x++) {
                int v = ((x * 3 + y * 5) * 1023) / (3 * w + 5 * h);
                v += (int)(next_random(&seed) % 41u) - 20;
                if ((next_random(&seed) & 31u) == 0) v = (int)(next_random(&seed) & 1023u);
                p->planes[c][y * p->strides[c] + x] = (int16_t)(v < 0 ? 0 : v > 1023 ? 1023 : v);
            }
        }
        p->pic.planes[c] = p->planes[c];
        p->pic.strides[c] = p->strides[c];
    }
    p->pic.width = width;
    p->pic.height = height;
    p->pic.chroma_format = format;
    p->pic.bit_depth = 10;
}

static void picture_free(picture_buf *p) {
    int c;
    for (c = 0; c < 3; c++) {
        free(p->planes[c]);
        free(p->ref[c]);
    }
}

static int components(const picture_buf *p) {
    return p->chroma_format == LUTF_CHROMA_400 ? 1 : 3;
}

/* Filters component c of p into dst (stride dst_stride) in the given mode:
 * 0 = whole plane (NULL region), 1 = CTUs (64 luma, 32 chroma), 2 = strips of 8 rows,
 * 3 = CTUs of 17 (odd sizes). Returns the status of the last call (all must agree). */
static int32_t filter_mode(const lutf_ctx *ctx, const picture_buf *p, int c, int mode,
                           int16_t *dst, intptr_t dst_stride, long *calls) {
    int w = p->pw[c], h = p->ph[c], x, y;
    int32_t status = 0, first = 0x7fff;
    int bw = w, bh = h;
    if (mode == 0) {
        (*calls)++;
        return lutf_filter_i16(ctx, &p->pic, c, QP, NULL, dst, dst_stride);
    }
    if (mode == 1) bw = bh = c == 0 ? 64 : 32;
    if (mode == 2) bh = 8;
    if (mode == 3) bw = bh = 17;
    for (y = 0; y < h; y += bh) {
        for (x = 0; x < w; x += bw) {
            lutf_region r;
            r.x = x;
            r.y = y;
            r.width = w - x < bw ? w - x : bw;
            r.height = h - y < bh ? h - y : bh;
            status = lutf_filter_i16(ctx, &p->pic, c, QP, &r, dst, dst_stride);
            (*calls)++;
            if (first == 0x7fff) first = status;
            if (status != first) return -1000;
        }
    }
    return status;
}

static void *worker_main(void *arg) {
    worker *wk = (worker *)arg;
    int round, k, c, y;
    for (round = 0; round < wk->rounds; round++) {
        for (k = 0; k < NPIC; k++) {
            picture_buf *p = &wk->pics[(k + wk->index) % NPIC];
            for (c = 0; c < components(p); c++) {
                int w = p->pw[c], h = p->ph[c];
                intptr_t stride = w + 3;
                int mode = (wk->index + round + k + c) % 4;
                int16_t *dst = (int16_t *)xmalloc((size_t)stride * (size_t)h * sizeof(int16_t));
                int32_t s;
                memset(dst, 0x5a, (size_t)stride * (size_t)h * sizeof(int16_t));
                s = filter_mode(wk->ctx, p, c, mode, dst, stride, &wk->calls);
                if (s != p->ref_status[c]) {
                    fprintf(stderr, "worker %d: status %d, reference %d (%s)\n", wk->index,
                            (int)s, (int)p->ref_status[c], lutf_last_error());
                    wk->failures++;
                } else {
                    for (y = 0; y < h; y++) {
                        if (memcmp(dst + (intptr_t)y * stride, p->ref[c] + (intptr_t)y * w,
                                   (size_t)w * sizeof(int16_t)) != 0) {
                            wk->mismatches++;
                            break;
                        }
                    }
                }
                free(dst);
            }
            /* A failing call: this thread's message, whatever the others do meanwhile. */
            {
                lutf_region bad;
                char expected[64];
                int16_t *dst =
                    (int16_t *)xmalloc((size_t)p->width * (size_t)p->height * sizeof(int16_t));
                int32_t s;
                bad.x = p->width + wk->index;
                bad.y = 0;
                bad.width = 1;
                bad.height = 1;
                s = lutf_filter_i16(wk->ctx, &p->pic, 0, QP, &bad, dst, p->width);
                snprintf(expected, sizeof expected, "region %d,0 1x1", bad.x);
                if (s != LUTF_ERR_REGION || strstr(lutf_last_error(), expected) == NULL) {
                    fprintf(stderr, "worker %d: status %d, message '%s', expected '%s'\n",
                            wk->index, (int)s, lutf_last_error(), expected);
                    wk->failures++;
                }
                free(dst);
            }
        }
    }
    return NULL;
}

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    buf = (unsigned char *)xmalloc((size_t)n);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static lutf_status open_ctx(const unsigned char *bytes, size_t len, lutf_ctx **ctx) {
    return bytes ? lutf_open_memory(bytes, len, ctx) : lutf_open_default(ctx);
}

int main(int argc, char **argv) {
    const char *container = argc > 1 ? argv[1] : "-";
    int threads = argc > 2 ? atoi(argv[2]) : 8;
    int rounds = argc > 3 ? atoi(argv[3]) : 3;
    long cycles = argc > 4 ? atol(argv[4]) : 2000;
    static const int sizes[NPIC][3] = {
        {96, 64, LUTF_CHROMA_420}, {130, 66, LUTF_CHROMA_420}, {64, 64, LUTF_CHROMA_444},
        {200, 40, LUTF_CHROMA_422}, {33, 17, LUTF_CHROMA_400}, {128, 72, LUTF_CHROMA_420}};
    unsigned char *bytes = NULL;
    size_t len = 0;
    lutf_ctx *ctx = NULL;
    picture_buf pics[NPIC];
    pthread_t *tids;
    worker *workers;
    long mismatches = 0, failures = 0, calls = 0;
    int i, c, t;

    if (threads < 1 || rounds < 1 || cycles < 0) {
        fprintf(stderr, "usage: %s [CONTAINER|- [THREADS [ROUNDS [CYCLES]]]]\n", argv[0]);
        return 2;
    }
    if (strcmp(container, "-") != 0) {
        bytes = read_file(container, &len);
        if (!bytes) {
            fprintf(stderr, "cannot read %s\n", container);
            return 2;
        }
    }
    if (open_ctx(bytes, len, &ctx) != LUTF_OK) {
        fprintf(stderr, "cannot open the container: %s\n", lutf_last_error());
        return 1;
    }

    /* 1. Reference, single-threaded. */
    for (i = 0; i < NPIC; i++) {
        picture_init(&pics[i], sizes[i][0], sizes[i][1], sizes[i][2], 0x9e3779b9u * (uint32_t)(i + 1));
        for (c = 0; c < components(&pics[i]); c++) {
            int w = pics[i].pw[c], h = pics[i].ph[c];
            pics[i].ref[c] = (int16_t *)xmalloc((size_t)w * (size_t)h * sizeof(int16_t));
            pics[i].ref_status[c] =
                lutf_filter_i16(ctx, &pics[i].pic, c, QP, NULL, pics[i].ref[c], w);
            if (pics[i].ref_status[c] < 0) {
                fprintf(stderr, "reference: %s\n", lutf_last_error());
                return 1;
            }
        }
    }

    /* 2. Many threads, one context, thread count changing underneath. */
    tids = (pthread_t *)xmalloc((size_t)threads * sizeof *tids);
    workers = (worker *)xmalloc((size_t)threads * sizeof *workers);
    for (t = 0; t < threads; t++) {
        workers[t].ctx = ctx;
        workers[t].pics = pics;
        workers[t].index = t;
        workers[t].rounds = rounds;
        workers[t].mismatches = workers[t].failures = workers[t].calls = 0;
        if (pthread_create(&tids[t], NULL, worker_main, &workers[t]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    for (i = 0; i < 12; i++) {
        if (lutf_set_threads(ctx, 1 + i % 4) != LUTF_OK) failures++;
    }
    for (t = 0; t < threads; t++) {
        pthread_join(tids[t], NULL);
        mismatches += workers[t].mismatches;
        failures += workers[t].failures;
        calls += workers[t].calls;
    }
    printf("threads: %d workers x %d rounds, %ld filter calls on one context: %ld mismatches, "
           "%ld failures\n",
           threads, rounds, calls, mismatches, failures);
    free(tids);
    free(workers);
    lutf_close(ctx);

    /* 3. Create / filter / destroy cycles: memory must stay flat. */
    if (cycles > 0) {
        long warm = cycles / 10 > 0 ? cycles / 10 : 1;
        long rss_start = -1, rss_end, n;
        picture_buf *p = &pics[0];
        int16_t *dst = (int16_t *)xmalloc((size_t)p->width * (size_t)p->height * sizeof(int16_t));
        for (n = 0; n < cycles; n++) {
            lutf_ctx *c2 = NULL;
            if (n == warm) rss_start = rss_kb();
            if (open_ctx(bytes, len, &c2) != LUTF_OK) {
                fprintf(stderr, "cycle %ld: %s\n", n, lutf_last_error());
                failures++;
                break;
            }
            if (n % 10 == 0 && lutf_set_threads(c2, 2) != LUTF_OK) failures++;
            if (lutf_filter_i16(c2, &p->pic, 0, QP, NULL, dst, p->width) != p->ref_status[0]) {
                failures++;
            } else if (memcmp(dst, p->ref[0], (size_t)p->width * (size_t)p->height * 2) != 0) {
                mismatches++;
            }
            lutf_close(c2);
        }
        rss_end = rss_kb();
        free(dst);
        printf("memory: VmRSS %ld kB after %ld cycles, %ld kB after %ld (growth %ld kB)\n",
               rss_start, warm, rss_end, cycles, rss_end - rss_start);
        /* Allow 8 MB of allocator noise (glibc creates up to 8 arenas per core for the
         * short-lived worker threads of each context) plus 128 bytes per cycle: leaking one
         * context per cycle costs far more (its decoded DFC indexes alone are 1.2 MB for the
         * embedded default). The printed growth is the measurement; fewer than 100 cycles
         * only report. Under valgrind RSS is the tool's own: set LUTF_RSS_REPORT_ONLY to
         * report without failing. */
        if (rss_start > 0 && cycles >= 100 && rss_end - rss_start > 8192 + cycles / 8 &&
            getenv("LUTF_RSS_REPORT_ONLY") == NULL) {
            fprintf(stderr, "memory grew by %ld kB over %ld cycles\n", rss_end - rss_start,
                    cycles - warm);
            failures++;
        }
    }

    for (i = 0; i < NPIC; i++) picture_free(&pics[i]);
    free(bytes);
    if (mismatches || failures) {
        fprintf(stderr, "%ld mismatches, %ld failures\n", mismatches, failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
