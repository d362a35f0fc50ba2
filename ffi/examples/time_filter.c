/* Times whole-picture filtering through the C API: a 10-bit 4:2:0 picture in int16_t (VTM's Pel)
 * with a 32-sample margin and padded strides, Y + Cb + Cr filtered with the model the container
 * selects for the slice QP, 1 and 2 worker threads, median of the runs.
 *
 *   cargo build --release -p lut-filter-ffi
 *   cc -O2 -std=c11 -Wall -Wextra -Werror -pedantic -Iffi/include ffi/examples/time_filter.c target/release/liblutfilter.a \
 *      -lpthread -ldl -lm -o /tmp/time_filter
 *   /tmp/time_filter [container.lut|default] [width height] [qp] [runs]
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lutfilter.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "default";
    int w = argc > 3 ? atoi(argv[2]) : 1920, h = argc > 3 ? atoi(argv[3]) : 1080;
    int qp = argc > 4 ? atoi(argv[4]) : 32, runs = argc > 5 ? atoi(argv[5]) : 5;
    const int margin = 32;
    lutf_ctx *ctx = NULL;
    lutf_status st = strcmp(path, "default") == 0 ? lutf_open_default(&ctx)
                                                  : lutf_open_file(path, 0, &ctx);
    if (st < 0) {
        fprintf(stderr, "open: %s\n", lutf_last_error());
        return 1;
    }
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    int sw[3] = {w + 2 * margin, cw + margin, cw + margin};
    int ph[3] = {h, ch, ch}, pm[3] = {margin, margin / 2, margin / 2};
    int16_t *buf[3], *dst[3];
    lutf_picture pic;
    memset(&pic, 0, sizeof pic);
    unsigned seed = 12345u;
    for (int c = 0; c < 3; c++) {
        size_t n = (size_t)sw[c] * (size_t)(ph[c] + 2 * pm[c]);
        buf[c] = malloc(n * sizeof(int16_t));
        dst[c] = malloc(n * sizeof(int16_t));
        for (int y = 0; y < ph[c] + 2 * pm[c]; y++)
            for (int x = 0; x < sw[c]; x++) {
                seed = seed * 1664525u + 1013904223u;
                /* smooth content with noise, like a decoded picture */
                int v = 200 + ((x * 3 + y * 2) % 600) + (int)((seed >> 24) % 25) - 12;
                buf[c][(size_t)y * (size_t)sw[c] + (size_t)x] = (int16_t)v;
            }
        pic.planes[c] = buf[c] + (size_t)pm[c] * (size_t)sw[c] + (size_t)pm[c];
        pic.strides[c] = sw[c];
    }
    pic.width = w;
    pic.height = h;
    pic.chroma_format = LUTF_CHROMA_420;
    pic.bit_depth = 10;
    double samples = (double)w * h + 2.0 * cw * ch;
    for (int threads = 1; threads <= 2; threads++) {
        lutf_set_threads(ctx, threads);
        double *t = malloc(sizeof(double) * (size_t)runs);
        for (int r = 0; r < runs; r++) {
            double t0 = now_s();
            for (int c = 0; c < 3; c++) {
                int16_t *d = dst[c] + (size_t)pm[c] * (size_t)sw[c] + (size_t)pm[c];
                st = lutf_filter_i16(ctx, &pic, c, qp, NULL, d, sw[c]);
                if (st < 0) {
                    fprintf(stderr, "filter: %s\n", lutf_last_error());
                    return 1;
                }
            }
            t[r] = now_s() - t0;
        }
        qsort(t, (size_t)runs, sizeof(double), cmp_double);
        printf("C API %dx%d 4:2:0 10-bit, %d thread(s): median %.1f ms/picture, %.2f ns/sample "
               "(Y+Cb+Cr), %.2f fps\n",
               w, h, threads, t[runs / 2] * 1e3, t[runs / 2] * 1e9 / samples, 1.0 / t[runs / 2]);
        free(t);
    }
    for (int c = 0; c < 3; c++) {
        free(buf[c]);
        free(dst[c]);
    }
    lutf_close(ctx);
    return 0;
}
