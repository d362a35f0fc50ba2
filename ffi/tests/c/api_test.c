/*
 * C11 test of the lutfilter C API (driven by ffi/tests/c_programs.rs).
 *
 * Usage: api_test [CONTAINER DUMP]
 *   Without arguments: tests with the embedded default container only.
 *   With CONTAINER: also opens that file (mapped, read, and from memory), checks that CTU-by-CTU
 *   filtering equals whole-plane filtering, and writes the input picture and the whole-plane
 *   output of every component to DUMP for the Rust side to compare with its own API.
 *
 * The picture is laid out like VTM's: int16_t samples, 10 bits, 4:2:0, a margin around every
 * plane filled with garbage (the filter must never read it) and strides wider than the planes.
 */
#include "lutfilter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* The call must return `code`; a negative code must come with a non-empty message. */
#define EXPECT(call, code)                                                                         \
    do {                                                                                           \
        int32_t got_ = (int32_t)(call);                                                            \
        if (got_ != (int32_t)(code)) {                                                             \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %s; last error: %s\n", __FILE__,  \
                    __LINE__, #call, (int)got_, lutf_status_name(got_), #code, lutf_last_error()); \
            failures++;                                                                            \
        } else if (got_ < 0 && lutf_last_error()[0] == '\0') {                                     \
            fprintf(stderr, "%s:%d: %s failed without a message\n", __FILE__, __LINE__, #call);    \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

enum { WIDTH = 416, HEIGHT = 240, MARGIN = 16, CTU = 128, BIT_DEPTH = 10, QP = 37 };

static uint32_t rng_state = 0x12345678u;
static uint32_t next_random(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* A plane with a margin of `margin` samples on every side, like VTM's PelStorage. */
typedef struct {
    int16_t *alloc;
    int16_t *origin; /* first picture sample */
    intptr_t stride;
    int width, height, margin;
    size_t samples;
} plane_buf;

static void plane_init(plane_buf *p, int width, int height, int margin, int16_t fill) {
    size_t i;
    p->width = width;
    p->height = height;
    p->margin = margin;
    p->stride = (intptr_t)(width + 2 * margin + 24); /* wider than the plane, like VTM */
    p->samples = (size_t)p->stride * (size_t)(height + 2 * margin);
    p->alloc = (int16_t *)malloc(p->samples * sizeof(int16_t));
    if (!p->alloc) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (i = 0; i < p->samples; i++) p->alloc[i] = fill;
    p->origin = p->alloc + (size_t)margin * (size_t)p->stride + (size_t)margin;
}

static void plane_free(plane_buf *p) {
    free(p->alloc);
    p->alloc = p->origin = NULL;
}

static int16_t *at(const plane_buf *p, int x, int y) {
    return p->origin + (intptr_t)y * p->stride + x;
}

/* Random 10-bit content: a gradient with noise and some random edges; garbage in the margin. */
static void plane_random(plane_buf *p) {
    size_t i;
    int x, y;
    for (i = 0; i < p->samples; i++) p->alloc[i] = (int16_t)(next_random() & 0x7fff); /* garbage */
    for (y = 0; y < p->height; y++) {
        for (x = 0; x < p->width; x++) {
            int v = ((x * 3 + y * 5) * 1023) / (3 * p->width + 5 * p->height);
            v += (int)(next_random() % 33u) - 16;
            if ((next_random() & 63u) == 0) v = (int)(next_random() & 1023u);
            *at(p, x, y) = (int16_t)(v < 0 ? 0 : v > 1023 ? 1023 : v);
        }
    }
}

static int planes_equal(const plane_buf *a, const plane_buf *b) {
    int y;
    for (y = 0; y < a->height; y++)
        if (memcmp(at(a, 0, y), at(b, 0, y), (size_t)a->width * sizeof(int16_t)) != 0) return 0;
    return 1;
}

typedef struct {
    plane_buf planes[3];
    lutf_picture pic;
} picture_buf;

static void picture_init(picture_buf *p) {
    int c;
    plane_init(&p->planes[0], WIDTH, HEIGHT, MARGIN, 0);
    plane_init(&p->planes[1], (WIDTH + 1) / 2, (HEIGHT + 1) / 2, MARGIN / 2, 0);
    plane_init(&p->planes[2], (WIDTH + 1) / 2, (HEIGHT + 1) / 2, MARGIN / 2, 0);
    memset(&p->pic, 0, sizeof p->pic);
    for (c = 0; c < 3; c++) {
        plane_random(&p->planes[c]);
        p->pic.planes[c] = p->planes[c].origin;
        p->pic.strides[c] = p->planes[c].stride;
    }
    p->pic.width = WIDTH;
    p->pic.height = HEIGHT;
    p->pic.chroma_format = LUTF_CHROMA_420;
    p->pic.bit_depth = BIT_DEPTH;
}

static void picture_free(picture_buf *p) {
    int c;
    for (c = 0; c < 3; c++) plane_free(&p->planes[c]);
}

/* Filters component c of pic into whole (one call) and ctus (CTU by CTU); returns the status. */
static int32_t filter_both(const lutf_ctx *ctx, const picture_buf *src, int c, plane_buf *whole,
                           plane_buf *ctus) {
    int ctu = c == 0 ? CTU : CTU / 2;
    int x, y;
    int32_t status = lutf_filter_i16(ctx, &src->pic, c, QP, NULL, whole->origin, whole->stride);
    CHECK(status == LUTF_OK || status == LUTF_NOT_FILTERED);
    for (y = 0; y < whole->height; y += ctu) {
        for (x = 0; x < whole->width; x += ctu) {
            lutf_region r;
            r.x = x;
            r.y = y;
            r.width = whole->width - x < ctu ? whole->width - x : ctu;
            r.height = whole->height - y < ctu ? whole->height - y : ctu;
            EXPECT(lutf_filter_i16(ctx, &src->pic, c, QP, &r, ctus->origin, ctus->stride), status);
        }
    }
    CHECK(planes_equal(whole, ctus));
    /* An I slice selects as an unknown picture (API 1.1). */
    EXPECT(lutf_filter_slice_i16(ctx, &src->pic, c, QP, LUTF_SLICE_I, NULL, ctus->origin,
                                 ctus->stride), status);
    CHECK(planes_equal(whole, ctus));
    EXPECT(lutf_filter_slice_i16(ctx, &src->pic, c, QP, 7, NULL, ctus->origin, ctus->stride),
           LUTF_ERR_INVALID_ARGUMENT);
    return status;
}

/* Filters all three components; whole[c] receive the whole-plane results. */
static void filter_picture(const lutf_ctx *ctx, const picture_buf *src, plane_buf whole[3]) {
    int c;
    for (c = 0; c < 3; c++) {
        plane_buf ctus;
        plane_init(&whole[c], src->planes[c].width, src->planes[c].height, 4, -7);
        plane_init(&ctus, src->planes[c].width, src->planes[c].height, 0, -9);
        filter_both(ctx, src, c, &whole[c], &ctus);
        plane_free(&ctus);
    }
}

static void test_queries(const lutf_ctx *ctx) {
    int32_t count = -1, i, threads = 0;
    EXPECT(lutf_model_count(ctx, &count), LUTF_OK);
    CHECK(count >= 1);
    for (i = 0; i < count; i++) {
        lutf_model_info info;
        EXPECT(lutf_get_model_info(ctx, i, &info), LUTF_OK);
        CHECK(info.name != NULL && info.name[0] != '\0');
        CHECK(info.component >= 0 && info.component <= 2);
        CHECK(info.qp_min <= info.qp_max);
        CHECK(info.margin >= 0);
        CHECK(info.bit_depth_min <= BIT_DEPTH && BIT_DEPTH <= info.bit_depth_max);
    }
    for (i = 0; i < 3; i++) {
        int32_t index = -2;
        lutf_status s = lutf_select_model(ctx, i, QP, &index);
        CHECK(lutf_has_model(ctx, i, QP) == (s == LUTF_OK ? 1 : 0));
        CHECK(s == LUTF_OK ? (index >= 0 && index < count) : index == -1);
        {
            /* By slice type (API 1.1): I as unknown; B a model for all or inter pictures. */
            int32_t by_type = -2, pictures = -1;
            EXPECT(lutf_select_model_slice(ctx, i, QP, LUTF_SLICE_I, &by_type), s);
            CHECK(by_type == index);
            if (lutf_select_model_slice(ctx, i, QP, LUTF_SLICE_B, &by_type) == LUTF_OK) {
                EXPECT(lutf_get_model_pictures(ctx, by_type, &pictures), LUTF_OK);
                CHECK(pictures == LUTF_PICTURES_ALL || pictures == LUTF_PICTURES_INTER);
            }
            EXPECT(lutf_select_model_slice(ctx, i, QP, 3, &by_type), LUTF_ERR_INVALID_ARGUMENT);
            EXPECT(lutf_get_model_pictures(ctx, count, &pictures), LUTF_ERR_INVALID_ARGUMENT);
        }
    }
    EXPECT(lutf_get_threads(ctx, &threads), LUTF_OK);
    CHECK(threads == 1);
    {
        uint32_t crc = 0;
        EXPECT(lutf_get_checksum(ctx, &crc), LUTF_OK);
        EXPECT(lutf_get_checksum(ctx, NULL), LUTF_ERR_NULL_POINTER);
    }
}

static void test_misuse(const lutf_ctx *ctx, picture_buf *src) {
    plane_buf dst;
    lutf_picture bad;
    lutf_region r;
    lutf_ctx *out = NULL;
    lutf_model_info info;
    int32_t n = 0, index = 0;
    uint8_t flags[8];
    uint64_t ssd_a[8], ssd_b[8];
    lutf_ctu_decision decision;
    static const char garbage[64] = "definitely not a safetensors file";
    int y, untouched = 1;
    plane_init(&dst, WIDTH, HEIGHT, 0, 1234);

    /* NULL pointers. */
    EXPECT(lutf_filter_i16(NULL, &src->pic, 0, QP, NULL, dst.origin, dst.stride), LUTF_ERR_NULL_POINTER);
    EXPECT(lutf_filter_i16(ctx, NULL, 0, QP, NULL, dst.origin, dst.stride), LUTF_ERR_NULL_POINTER);
    EXPECT(lutf_filter_i16(ctx, &src->pic, 0, QP, NULL, NULL, dst.stride), LUTF_ERR_NULL_POINTER);
    bad = src->pic;
    bad.planes[1] = NULL;
    EXPECT(lutf_filter_i16(ctx, &bad, 0, QP, NULL, dst.origin, dst.stride), LUTF_ERR_NULL_POINTER);
    EXPECT(lutf_open_default(NULL), LUTF_ERR_NULL_POINTER);
    EXPECT(lutf_open_file(NULL, 0, &out), LUTF_ERR_NULL_POINTER);
    CHECK(out == NULL);
    EXPECT(lutf_open_memory(NULL, 10, &out), LUTF_ERR_NULL_POINTER);
    EXPECT(lutf_model_count(NULL, &n), LUTF_ERR_NULL_POINTER);
    EXPECT(lutf_model_count(ctx, NULL), LUTF_ERR_NULL_POINTER);
    EXPECT(lutf_get_model_info(ctx, 0, NULL), LUTF_ERR_NULL_POINTER);
    EXPECT(lutf_select_model(ctx, 0, QP, NULL), LUTF_ERR_NULL_POINTER);
    EXPECT(lutf_has_model(NULL, 0, QP), LUTF_ERR_NULL_POINTER);
    EXPECT(lutf_is_identity(NULL), LUTF_ERR_NULL_POINTER);
    EXPECT(lutf_set_threads(NULL, 1), LUTF_ERR_NULL_POINTER);
    lutf_close(NULL);

    /* Sizes. */
    bad = src->pic;
    bad.width = 0;
    EXPECT(lutf_filter_i16(ctx, &bad, 0, QP, NULL, dst.origin, dst.stride), LUTF_ERR_SIZE);
    bad = src->pic;
    bad.height = -16;
    EXPECT(lutf_filter_i16(ctx, &bad, 0, QP, NULL, dst.origin, dst.stride), LUTF_ERR_SIZE);
    EXPECT(lutf_open_memory(garbage, 0, &out), LUTF_ERR_SIZE);

    /* Strides smaller than widths (source and destination) or negative. */
    bad = src->pic;
    bad.strides[0] = WIDTH - 1;
    EXPECT(lutf_filter_i16(ctx, &bad, 0, QP, NULL, dst.origin, dst.stride), LUTF_ERR_STRIDE);
    bad = src->pic;
    bad.strides[2] = -bad.strides[2];
    EXPECT(lutf_filter_i16(ctx, &bad, 0, QP, NULL, dst.origin, dst.stride), LUTF_ERR_STRIDE);
    EXPECT(lutf_filter_i16(ctx, &src->pic, 0, QP, NULL, dst.origin, WIDTH - 1), LUTF_ERR_STRIDE);

    /* Bit depths. */
    bad = src->pic;
    bad.bit_depth = 7;
    EXPECT(lutf_filter_i16(ctx, &bad, 0, QP, NULL, dst.origin, dst.stride), LUTF_ERR_BIT_DEPTH);
    bad.bit_depth = 13;
    EXPECT(lutf_filter_i16(ctx, &bad, 0, QP, NULL, dst.origin, dst.stride), LUTF_ERR_BIT_DEPTH);
    /* uint8_t samples take 8 bits only (the buffer is big enough for any reading). */
    EXPECT(lutf_filter_u8(ctx, &src->pic, 0, QP, NULL, (uint8_t *)dst.origin, dst.stride),
           LUTF_ERR_BIT_DEPTH);

    /* Chroma format and components. */
    bad = src->pic;
    bad.chroma_format = 4;
    EXPECT(lutf_filter_i16(ctx, &bad, 0, QP, NULL, dst.origin, dst.stride), LUTF_ERR_CHROMA_FORMAT);
    bad.chroma_format = -1;
    EXPECT(lutf_filter_i16(ctx, &bad, 0, QP, NULL, dst.origin, dst.stride), LUTF_ERR_CHROMA_FORMAT);
    EXPECT(lutf_filter_i16(ctx, &src->pic, 3, QP, NULL, dst.origin, dst.stride), LUTF_ERR_COMPONENT);
    EXPECT(lutf_filter_i16(ctx, &src->pic, -1, QP, NULL, dst.origin, dst.stride), LUTF_ERR_COMPONENT);
    bad = src->pic;
    bad.chroma_format = LUTF_CHROMA_400;
    EXPECT(lutf_filter_i16(ctx, &bad, 1, QP, NULL, dst.origin, dst.stride), LUTF_ERR_COMPONENT);
    EXPECT(lutf_has_model(ctx, 5, QP), LUTF_ERR_COMPONENT);

    /* Regions. */
    r.x = WIDTH - 8;
    r.y = 0;
    r.width = 16;
    r.height = 16;
    EXPECT(lutf_filter_i16(ctx, &src->pic, 0, QP, &r, dst.origin, dst.stride), LUTF_ERR_REGION);
    r.x = -1;
    r.width = 8;
    EXPECT(lutf_filter_i16(ctx, &src->pic, 0, QP, &r, dst.origin, dst.stride), LUTF_ERR_REGION);
    r.x = 0;
    r.width = 0;
    EXPECT(lutf_filter_i16(ctx, &src->pic, 0, QP, &r, dst.origin, dst.stride), LUTF_ERR_REGION);
    r.width = 8;
    r.y = HEIGHT / 2; /* inside luma, outside the 4:2:0 chroma plane */
    EXPECT(lutf_filter_i16(ctx, &src->pic, 1, QP, &r, dst.origin, dst.stride), LUTF_ERR_REGION);

    /* Destination aliasing a source plane (the same plane, or another component's). */
    EXPECT(lutf_filter_i16(ctx, &src->pic, 0, QP, NULL, src->planes[0].origin, src->planes[0].stride),
           LUTF_ERR_ALIASING);
    EXPECT(lutf_filter_i16(ctx, &src->pic, 1, QP, NULL, at(&src->planes[0], 8, 8), src->planes[1].stride),
           LUTF_ERR_ALIASING);

    /* Misaligned plane pointer. */
    bad = src->pic;
    bad.planes[0] = (const char *)src->planes[0].origin + 1;
    EXPECT(lutf_filter_i16(ctx, &bad, 0, QP, NULL, dst.origin, dst.stride), LUTF_ERR_ALIGNMENT);

    /* Nothing was written by any failed call. */
    for (y = 0; y < HEIGHT; y++) {
        int x;
        for (x = 0; x < WIDTH; x++) untouched &= *at(&dst, x, y) == 1234;
    }
    CHECK(untouched);

    /* Opening. */
    EXPECT(lutf_open_file("/nonexistent/lutfilter/model.lut", 0, &out), LUTF_ERR_IO);
    CHECK(out == NULL);
    EXPECT(lutf_open_file("/nonexistent/lutfilter/model.lut", 0x80, &out), LUTF_ERR_INVALID_ARGUMENT);
    EXPECT(lutf_open_memory(garbage, sizeof garbage, &out), LUTF_ERR_CONTAINER);
    CHECK(out == NULL);

    /* Queries and threads. */
    EXPECT(lutf_get_model_info(ctx, -1, &info), LUTF_ERR_INVALID_ARGUMENT);
    EXPECT(lutf_get_model_info(ctx, 1000, &info), LUTF_ERR_INVALID_ARGUMENT);
    EXPECT(lutf_select_model(ctx, 7, QP, &index), LUTF_ERR_COMPONENT);
    EXPECT(lutf_set_threads((lutf_ctx *)ctx, -1), LUTF_ERR_INVALID_ARGUMENT);

    /* CTU decision helpers. */
    {
        lutf_plane p;
        p.data = src->planes[0].origin;
        p.stride = src->planes[0].stride;
        p.width = WIDTH;
        p.height = HEIGHT;
        EXPECT(lutf_ctu_count(WIDTH, HEIGHT, CTU, &n), LUTF_OK);
        CHECK(n == 8); /* 4 x 2 */
        EXPECT(lutf_ctu_count(WIDTH, HEIGHT, 0, &n), LUTF_ERR_INVALID_ARGUMENT);
        EXPECT(lutf_ctu_count(-1, HEIGHT, CTU, &n), LUTF_ERR_SIZE);
        EXPECT(lutf_ctu_rdo_i16(&p, &p, &p, 0, 1.0, 1.0, 8, flags, NULL, NULL, &decision),
               LUTF_ERR_INVALID_ARGUMENT);
        EXPECT(lutf_ctu_rdo_i16(&p, &p, &p, CTU, 1.0, 1.0, 7, flags, NULL, NULL, &decision), LUTF_ERR_SIZE);
        EXPECT(lutf_ctu_rdo_i16(&p, &p, &p, CTU, -1.0, 1.0, 8, flags, NULL, NULL, &decision),
               LUTF_ERR_INVALID_ARGUMENT);
        EXPECT(lutf_ctu_rdo_i16(&p, NULL, &p, CTU, 1.0, 1.0, 8, flags, NULL, NULL, &decision),
               LUTF_ERR_NULL_POINTER);
        EXPECT(lutf_ctu_rdo_i16(&p, &p, &p, CTU, 1.0, 1.0, 8, NULL, NULL, NULL, &decision),
               LUTF_ERR_NULL_POINTER);
        EXPECT(lutf_ctu_ssd_i16(&p, &p, &p, CTU, 8, ssd_a, ssd_b), LUTF_OK);
        EXPECT(lutf_ctu_decide(ssd_a, ssd_b, 8, 1.0, 1.0, flags, &decision), LUTF_OK);
        CHECK(decision.mode == LUTF_MODE_OFF && decision.ctus_on == 0); /* identical planes */
        EXPECT(lutf_ctu_decide(ssd_a, NULL, 8, 1.0, 1.0, flags, &decision), LUTF_ERR_NULL_POINTER);
        p.width = WIDTH + 1000; /* wider than the stride */
        EXPECT(lutf_ctu_ssd_i16(&p, &p, &p, CTU, 8, ssd_a, ssd_b), LUTF_ERR_STRIDE);
    }
    CHECK(lutf_last_error()[0] != '\0');
    plane_free(&dst);
}

/* The RD decision on a real filter output: consistency of arrays and summary. */
static void test_rdo(const picture_buf *src, const plane_buf filtered[3]) {
    int c;
    for (c = 0; c < 3; c++) {
        const plane_buf *rec = &src->planes[c];
        plane_buf org;
        lutf_plane po, pr, pf;
        int32_t n = 0, i, on = 0;
        uint64_t ssd_off[64], ssd_on[64], sum_off = 0, sum_on = 0, sum_min = 0;
        uint8_t flags[64];
        lutf_ctu_decision d;
        int ctu = c == 0 ? CTU : CTU / 2;
        int x, y;
        /* An "original" close to the reconstruction. */
        plane_init(&org, rec->width, rec->height, 0, 0);
        for (y = 0; y < rec->height; y++)
            for (x = 0; x < rec->width; x++)
                *at(&org, x, y) = (int16_t)(*at(rec, x, y) + (int)(next_random() % 9u) - 4);
        po.data = org.origin;
        po.stride = org.stride;
        pr.data = rec->origin;
        pr.stride = rec->stride;
        pf.data = filtered[c].origin;
        pf.stride = filtered[c].stride;
        po.width = pr.width = pf.width = rec->width;
        po.height = pr.height = pf.height = rec->height;
        EXPECT(lutf_ctu_count(rec->width, rec->height, ctu, &n), LUTF_OK);
        CHECK(n > 0 && n <= 64);
        EXPECT(lutf_ctu_rdo_i16(&po, &pr, &pf, ctu, 30.0, 1.0, n, flags, ssd_off, ssd_on, &d), LUTF_OK);
        for (i = 0; i < n; i++) {
            sum_off += ssd_off[i];
            sum_on += ssd_on[i];
            sum_min += ssd_on[i] < ssd_off[i] ? ssd_on[i] : ssd_off[i];
            on += flags[i];
        }
        CHECK(d.distortion[0] == sum_off && d.distortion[1] == sum_on && d.distortion[2] == sum_min);
        CHECK(d.ctus_on == on);
        CHECK(d.mode >= LUTF_MODE_OFF && d.mode <= LUTF_MODE_CTU_ADAPTIVE);
        CHECK(d.cost[d.mode] <= d.cost[0] && d.cost[d.mode] <= d.cost[1] && d.cost[d.mode] <= d.cost[2]);
        if (d.mode == LUTF_MODE_OFF) CHECK(on == 0);
        if (d.mode == LUTF_MODE_ALL_ON) CHECK(on == n);
        {
            /* Among candidates (API 1.1): one candidate decides exactly as lutf_ctu_decide;
             * with two (the second here the unfiltered picture) every choice is 0, 1 or 2. */
            const uint64_t *one[1];
            const uint64_t *two[2];
            uint8_t choice[64];
            lutf_ctu_candidate_decision cd;
            one[0] = ssd_on;
            EXPECT(lutf_ctu_decide_among(ssd_off, one, 1, n, 30.0, 1.0, choice, &cd), LUTF_OK);
            CHECK(cd.mode == d.mode && cd.cost == d.cost[d.mode] && cd.ctus_on == d.ctus_on);
            for (i = 0; i < n; i++) CHECK(choice[i] == flags[i]);
            two[0] = ssd_on;
            two[1] = ssd_off;
            EXPECT(lutf_ctu_decide_among(ssd_off, two, 2, n, 30.0, 1.0, choice, &cd), LUTF_OK);
            CHECK(cd.mode >= LUTF_CANDIDATES_OFF && cd.mode <= LUTF_CANDIDATES_PER_CTU);
            for (i = 0; i < n; i++) CHECK(choice[i] <= 2);
            EXPECT(lutf_ctu_decide_among(ssd_off, two, 0, n, 30.0, 1.0, choice, &cd),
                   LUTF_ERR_INVALID_ARGUMENT);
        }
        {
            /* Residual scaling (API 1.2): statistics, least-squares factor over the CTUs
             * kept on, and the scaled plane sample by sample against the formula. */
            int64_t dot[64];
            uint64_t energy[64];
            uint8_t all[64];
            int32_t k = -1, k_one = -1;
            plane_buf scaled;
            EXPECT(lutf_ctu_residual_stats_i16(&po, &pr, &pf, ctu, n, dot, energy), LUTF_OK);
            for (i = 0; i < n; i++) all[i] = 1;
            EXPECT(lutf_fit_scale(dot, energy, all, n, &k), LUTF_OK);
            CHECK(k >= 0 && k <= LUTF_SCALE_MAX);
            for (i = 0; i < n; i++) all[i] = 0;
            EXPECT(lutf_fit_scale(dot, energy, all, n, &k_one), LUTF_OK);
            CHECK(k_one == LUTF_SCALE_ONE);
            plane_init(&scaled, rec->width, rec->height, 0, 0);
            for (y = 0; y < rec->height; y++)
                for (x = 0; x < rec->width; x++) *at(&scaled, x, y) = *at(&filtered[c], x, y);
            EXPECT(lutf_scale_residual_i16(&pr, scaled.origin, scaled.stride, LUTF_SCALE_ONE,
                                           BIT_DEPTH),
                   LUTF_OK);
            CHECK(planes_equal(&scaled, &filtered[c]));
            k = 11; /* 11/16: a factor that changes most corrections */
            EXPECT(lutf_scale_residual_i16(&pr, scaled.origin, scaled.stride, k, BIT_DEPTH),
                   LUTF_OK);
            for (y = 0; y < rec->height; y++)
                for (x = 0; x < rec->width; x++) {
                    int r = *at(rec, x, y), d = *at(&filtered[c], x, y) - r;
                    int v = r + ((k * d + 8) >> LUTF_SCALE_SHIFT);
                    v = v < 0 ? 0 : v > 1023 ? 1023 : v;
                    CHECK(*at(&scaled, x, y) == v);
                }
            EXPECT(lutf_scale_residual_i16(&pr, scaled.origin, scaled.stride, 32, BIT_DEPTH),
                   LUTF_ERR_INVALID_ARGUMENT);
            plane_free(&scaled);
        }
        plane_free(&org);
    }
}

static void write_plane(FILE *f, const plane_buf *p) {
    int y;
    for (y = 0; y < p->height; y++)
        CHECK(fwrite(at(p, 0, y), sizeof(int16_t), (size_t)p->width, f) == (size_t)p->width);
}

/* DUMP layout (native endianness): int32 width, height, chroma format, bit depth, qp; then the
 * input planes Y, Cb, Cr and the filtered planes Y, Cb, Cr, each row after row, no padding. */
static void dump(const char *path, const picture_buf *src, const plane_buf out[3]) {
    FILE *f = fopen(path, "wb");
    int32_t header[5] = {WIDTH, HEIGHT, LUTF_CHROMA_420, BIT_DEPTH, QP};
    int c;
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        failures++;
        return;
    }
    CHECK(fwrite(header, sizeof header, 1, f) == 1);
    for (c = 0; c < 3; c++) write_plane(f, &src->planes[c]);
    for (c = 0; c < 3; c++) write_plane(f, &out[c]);
    CHECK(fclose(f) == 0);
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *data;
    long size;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    data = (unsigned char *)malloc((size_t)size);
    if (data && fread(data, 1, (size_t)size, f) != (size_t)size) {
        free(data);
        data = NULL;
    }
    fclose(f);
    *len = (size_t)size;
    return data;
}

static void test_container(const char *path, const char *dump_path, picture_buf *src) {
    lutf_ctx *mapped = NULL, *read = NULL, *memory = NULL;
    plane_buf a[3], b[3], d[3];
    unsigned char *bytes;
    size_t len = 0;
    int c, changed = 0;
    EXPECT(lutf_open_file(path, 0, &mapped), LUTF_OK);
    EXPECT(lutf_open_file(path, LUTF_OPEN_READ, &read), LUTF_OK);
    bytes = read_file(path, &len);
    CHECK(bytes != NULL);
    EXPECT(lutf_open_memory(bytes, len, &memory), LUTF_OK);
    free(bytes); /* the context keeps its own copy */
    if (!mapped || !read || !memory) return;
    CHECK(lutf_is_identity(mapped) == 0);
    test_queries(mapped);

    filter_picture(mapped, src, a);
    for (c = 0; c < 3; c++) changed |= !planes_equal(&a[c], &src->planes[c]);
    CHECK(changed); /* a non-identity model changes the picture */
    filter_picture(memory, src, b);
    EXPECT(lutf_set_threads(read, 0), LUTF_OK);
    filter_picture(read, src, d);
    for (c = 0; c < 3; c++) {
        CHECK(planes_equal(&a[c], &b[c]));
        CHECK(planes_equal(&a[c], &d[c])); /* any thread count: the same bits */
    }
    test_rdo(src, a);
    dump(dump_path, src, a);
    for (c = 0; c < 3; c++) {
        plane_free(&a[c]);
        plane_free(&b[c]);
        plane_free(&d[c]);
    }
    lutf_close(mapped);
    lutf_close(read);
    lutf_close(memory);
}

int main(int argc, char **argv) {
    lutf_ctx *ctx = NULL;
    picture_buf src;
    plane_buf out[3];
    int c;

    CHECK(lutf_version() >> 16 == LUTF_API_MAJOR);
    CHECK((long)(lutf_version() & 0xffffu) >= (long)LUTF_API_MINOR);
    CHECK(lutf_last_error() != NULL);

    picture_init(&src);
    EXPECT(lutf_open_default(&ctx), LUTF_OK);
    if (!ctx) return 1;
    test_queries(ctx);
    if (lutf_default_is_identity()) CHECK(lutf_is_identity(ctx) == 1);

    /* The default container filters (or copies) every component; CTU by CTU == whole plane. */
    filter_picture(ctx, &src, out);
    if (lutf_is_identity(ctx) == 1)
        for (c = 0; c < 3; c++) CHECK(planes_equal(&out[c], &src.planes[c]));
    EXPECT(lutf_set_threads(ctx, 4), LUTF_OK);
    {
        int32_t threads = 0;
        EXPECT(lutf_get_threads(ctx, &threads), LUTF_OK);
        CHECK(threads == 4);
    }
    EXPECT(lutf_set_threads(ctx, 1), LUTF_OK);
    test_rdo(&src, out);
    test_misuse(ctx, &src);
    for (c = 0; c < 3; c++) plane_free(&out[c]);
    lutf_close(ctx);

    if (argc >= 3) test_container(argv[1], argv[2], &src);

    picture_free(&src);
    if (failures) {
        fprintf(stderr, "api_test (C): %d failure(s)\n", failures);
        return 1;
    }
    printf("api_test (C): all checks passed\n");
    return 0;
}
