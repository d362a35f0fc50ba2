// C++17 test of the lutfilter C API, written the way a VTM integration uses it (driven by
// ffi/tests/c_programs.rs).
//
// Usage: api_test_cpp [CONTAINER]
// Opens the default container (and CONTAINER when given), filters a VTM-like 10-bit 4:2:0
// picture (Pel = int16_t, margins, wide strides) CTU by CTU from several std::threads sharing
// one context, and checks the results against single-threaded whole-plane filtering, the
// uint16_t entry point, and the thread-locality of lutf_last_error().
#include "lutfilter.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using Pel = int16_t;  // VTM's sample type without high bit-depth support
static_assert(sizeof(Pel) == 2, "lutfilter takes 16-bit samples (build VTM without RExt high bit depth)");

namespace {

int failures = 0;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            std::fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__, \
                         __LINE__, #cond, lutf_last_error());                         \
            failures++;                                                               \
        }                                                                             \
    } while (0)

constexpr int kWidth = 416, kHeight = 240, kCtu = 128, kQp = 32, kBitDepth = 10;

struct CtxDeleter {
    void operator()(lutf_ctx* ctx) const { lutf_close(ctx); }
};
using Ctx = std::unique_ptr<lutf_ctx, CtxDeleter>;

// A plane with a margin, like VTM's PelStorage.
template <typename T>
struct PlaneBuf {
    int width = 0, height = 0, margin = 0;
    std::ptrdiff_t stride = 0;
    std::vector<T> storage;
    PlaneBuf(int w, int h, int m, T fill)
        : width(w), height(h), margin(m), stride(w + 2 * m + 32),
          storage(static_cast<size_t>(stride) * static_cast<size_t>(h + 2 * m), fill) {}
    T* origin() { return storage.data() + margin * stride + margin; }
    const T* origin() const { return storage.data() + margin * stride + margin; }
    T& at(int x, int y) { return origin()[y * stride + x]; }
    T at(int x, int y) const { return origin()[y * stride + x]; }
};

template <typename A, typename B>
bool same(const PlaneBuf<A>& a, const PlaneBuf<B>& b) {
    for (int y = 0; y < a.height; y++)
        for (int x = 0; x < a.width; x++)
            if (static_cast<int>(a.at(x, y)) != static_cast<int>(b.at(x, y))) return false;
    return true;
}

template <typename T>
struct PictureBuf {
    std::vector<PlaneBuf<T>> planes;
    explicit PictureBuf(T fill) {
        planes.emplace_back(kWidth, kHeight, 16, fill);
        planes.emplace_back((kWidth + 1) / 2, (kHeight + 1) / 2, 8, fill);
        planes.emplace_back((kWidth + 1) / 2, (kHeight + 1) / 2, 8, fill);
    }
    lutf_picture describe(int bit_depth) const {
        lutf_picture pic{};
        for (int c = 0; c < 3; c++) {
            pic.planes[c] = planes[c].origin();
            pic.strides[c] = planes[c].stride;
        }
        pic.width = kWidth;
        pic.height = kHeight;
        pic.chroma_format = LUTF_CHROMA_420;
        pic.bit_depth = bit_depth;
        return pic;
    }
};

PictureBuf<Pel> random_picture() {
    PictureBuf<Pel> pic(static_cast<Pel>(-12345));  // margins hold garbage
    uint32_t state = 2024u;
    auto next = [&state] {
        state = state * 1664525u + 1013904223u;
        return state >> 8;
    };
    for (auto& p : pic.planes)
        for (int y = 0; y < p.height; y++)
            for (int x = 0; x < p.width; x++)
                p.at(x, y) = static_cast<Pel>((x * 2 + y * 3 + static_cast<int>(next() % 64u)) & 1023);
    return pic;
}

// Filters every component of `src`, CTU by CTU when `ctus`, else one call per plane.
PictureBuf<Pel> filter(const lutf_ctx* ctx, const PictureBuf<Pel>& src, bool ctus) {
    PictureBuf<Pel> out(0);
    const lutf_picture pic = src.describe(kBitDepth);
    for (int c = 0; c < 3; c++) {
        auto& dst = out.planes[c];
        if (!ctus) {
            const lutf_status s = lutf_filter_i16(ctx, &pic, c, kQp, nullptr, dst.origin(), dst.stride);
            CHECK(s == LUTF_OK || s == LUTF_NOT_FILTERED);
            continue;
        }
        const int ctu = c == 0 ? kCtu : kCtu / 2;
        for (int y = 0; y < dst.height; y += ctu)
            for (int x = 0; x < dst.width; x += ctu) {
                const lutf_region r{x, y, std::min(ctu, dst.width - x), std::min(ctu, dst.height - y)};
                const lutf_status s = lutf_filter_i16(ctx, &pic, c, kQp, &r, dst.origin(), dst.stride);
                CHECK(s == LUTF_OK || s == LUTF_NOT_FILTERED);
            }
    }
    return out;
}

void test_context(lutf_ctx* ctx, const PictureBuf<Pel>& src) {
    const PictureBuf<Pel> reference = filter(ctx, src, false);

    // Four threads share the context (which itself runs on two worker threads).
    CHECK(lutf_set_threads(ctx, 2) == LUTF_OK);
    std::vector<PictureBuf<Pel>> results(4, PictureBuf<Pel>(0));
    std::vector<std::thread> threads;
    for (size_t t = 0; t < results.size(); t++)
        threads.emplace_back([&, t] { results[t] = filter(ctx, src, true); });
    for (auto& t : threads) t.join();
    for (const auto& r : results)
        for (int c = 0; c < 3; c++) CHECK(same(r.planes[c], reference.planes[c]));

    // uint16_t samples give the same result as int16_t.
    PictureBuf<uint16_t> src16(0), out16(0);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < src.planes[c].height; y++)
            for (int x = 0; x < src.planes[c].width; x++)
                src16.planes[c].at(x, y) = static_cast<uint16_t>(src.planes[c].at(x, y));
    const lutf_picture pic16 = src16.describe(kBitDepth);
    for (int c = 0; c < 3; c++) {
        const lutf_status s =
            lutf_filter_u16(ctx, &pic16, c, kQp, nullptr, out16.planes[c].origin(), out16.planes[c].stride);
        CHECK(s == LUTF_OK || s == LUTF_NOT_FILTERED);
        CHECK(same(out16.planes[c], reference.planes[c]));
    }

    // uint8_t samples at 8 bits run too.
    PictureBuf<uint8_t> src8(0), out8(0);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < src.planes[c].height; y++)
            for (int x = 0; x < src.planes[c].width; x++)
                src8.planes[c].at(x, y) = static_cast<uint8_t>(src.planes[c].at(x, y) >> 2);
    const lutf_picture pic8 = src8.describe(8);
    const lutf_status s8 = lutf_filter_u8(ctx, &pic8, 0, kQp, nullptr, out8.planes[0].origin(), out8.planes[0].stride);
    CHECK(s8 == LUTF_OK || s8 == LUTF_NOT_FILTERED);
}

void test_errors_are_thread_local(const lutf_ctx* ctx, const PictureBuf<Pel>& src) {
    lutf_picture pic = src.describe(kBitDepth);
    PictureBuf<Pel> out(0);
    pic.bit_depth = 20;
    CHECK(lutf_filter_i16(ctx, &pic, 0, kQp, nullptr, out.planes[0].origin(), out.planes[0].stride) ==
          LUTF_ERR_BIT_DEPTH);
    const std::string mine = lutf_last_error();
    CHECK(!mine.empty());
    std::string theirs_before, theirs_after;
    std::thread other([&] {
        theirs_before = lutf_last_error();
        CHECK(lutf_filter_i16(nullptr, &pic, 0, kQp, nullptr, nullptr, 0) == LUTF_ERR_NULL_POINTER);
        theirs_after = lutf_last_error();
    });
    other.join();
    CHECK(theirs_before.empty());
    CHECK(!theirs_after.empty() && theirs_after != mine);
    CHECK(mine == lutf_last_error());

    // Destination aliasing the reconstruction it reads: refused, nothing written.
    const lutf_picture good = src.describe(kBitDepth);
    CHECK(lutf_filter_i16(ctx, &good, 2, kQp, nullptr, const_cast<Pel*>(src.planes[2].origin()),
                          src.planes[2].stride) == LUTF_ERR_ALIASING);
    CHECK(std::strlen(lutf_last_error()) > 0);
}

}  // namespace

int main(int argc, char** argv) {
    if (lutf_version() >> 16 != LUTF_API_MAJOR) {
        std::fprintf(stderr, "lutfilter API major %u, header %d\n", lutf_version() >> 16, LUTF_API_MAJOR);
        return 1;
    }
    const PictureBuf<Pel> src = random_picture();

    lutf_ctx* raw = nullptr;
    CHECK(lutf_open_default(&raw) == LUTF_OK);
    Ctx def(raw);
    if (!def) return 1;
    test_context(def.get(), src);
    test_errors_are_thread_local(def.get(), src);
    if (lutf_default_is_identity() == 1) {
        const PictureBuf<Pel> out = filter(def.get(), src, true);
        for (int c = 0; c < 3; c++) CHECK(same(out.planes[c], src.planes[c]));
    }

    if (argc >= 2) {
        raw = nullptr;
        CHECK(lutf_open_file(argv[1], 0, &raw) == LUTF_OK);
        Ctx file(raw);
        if (file) {
            CHECK(lutf_is_identity(file.get()) == 0);
            test_context(file.get(), src);
        }
    }

    if (failures) {
        std::fprintf(stderr, "api_test (C++): %d failure(s)\n", failures);
        return 1;
    }
    std::printf("api_test (C++): all checks passed\n");
    return 0;
}
