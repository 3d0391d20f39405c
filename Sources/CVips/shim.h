// libvips for Pan's image renditions (Sources/PanHTTPSupport/Downloads/Thumbnails.swift).
// libvips' API is variadic (NULL-terminated option lists), which Swift can't
// call: these small wrappers fix the options and are what Swift calls.
#include <string.h>
#include <vips/vips.h>

// Outcomes of pan_vips_thumbnail.
#define PAN_VIPS_OK 0
#define PAN_VIPS_UNREADABLE 1  // not an image Pan reads, or damaged/truncated
#define PAN_VIPS_TOO_LARGE 2   // more pixels than allowed, by its header
#define PAN_VIPS_TIMED_OUT 3   // took longer than allowed: stopped

// Whether libvips would read `path` with one of the loaders Pan allows: the
// formats a browser shows too (JPEG, PNG, GIF, WebP, HEIF/AVIF). libvips picks
// a loader from the bytes, not the name, and has many more (SVG through
// librsvg, PDF, Matlab, FITS, ImageMagick…): a "photo.png" holding SVG must
// not reach librsvg.
static inline int pan_vips_allowed_loader(const char *path) {
    const char *loader = vips_foreign_find_load(path);
    if (loader == NULL) return 0;
    // Class names, as vips_foreign_find_load gives them ("VipsForeignLoadJpegFile").
    static const char *const allowed[] = {
        "VipsForeignLoadJpeg", "VipsForeignLoadPng", "VipsForeignLoadSpng", "VipsForeignLoadGif", "VipsForeignLoadNsgif",
        "VipsForeignLoadWebp", "VipsForeignLoadHeif",
    };
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        if (strncmp(loader, allowed[i], strlen(allowed[i])) == 0) return 1;
    }
    return 0;
}

// Reads only the header of `path` (no pixels decoded): its width and height.
// Returns PAN_VIPS_OK or PAN_VIPS_UNREADABLE.
static inline int pan_vips_header(const char *path, int *width, int *height) {
    if (!pan_vips_allowed_loader(path)) return PAN_VIPS_UNREADABLE;
    VipsImage *image = vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on", VIPS_FAIL_ON_ERROR, NULL);
    if (image == NULL) return PAN_VIPS_UNREADABLE;
    *width = vips_image_get_width(image);
    *height = vips_image_get_height(image);
    g_object_unref(image);
    return PAN_VIPS_OK;
}

// A WebP rendition of `source` fitting `size` × `size` (never enlarged), written
// to `destination`. Refuses, before decoding anything, an image whose header
// declares more than `max_pixels`; a truncated or damaged file fails
// (`fail_on = error`) instead of rendering grey; one taking more than
// `timeout_ms` is stopped (PAN_VIPS_TIMED_OUT). `out_width`/`out_height`: the
// rendition's; `source_width`/`source_height`: the original's.
// libvips' "eval" signal, as the pipeline computes: past the deadline, the
// image is killed and the computation stops with an error.
typedef struct { gint64 deadline; int expired; } PanVipsDeadline;

static inline void pan_vips_eval(VipsImage *image, VipsProgress *progress, void *data) {
    (void)progress;
    PanVipsDeadline *deadline = data;
    if (g_get_monotonic_time() > deadline->deadline) {
        deadline->expired = 1;
        vips_image_set_kill(image, TRUE);
    }
}

static inline int pan_vips_thumbnail(const char *source, const char *destination, int size, long long max_pixels, int quality,
                                     int timeout_ms, int *out_width, int *out_height, int *source_width, int *source_height) {
    PanVipsDeadline deadline = { g_get_monotonic_time() + (gint64)timeout_ms * 1000, 0 };
    int status = pan_vips_header(source, source_width, source_height);
    if (status != PAN_VIPS_OK) return status;
    if ((long long)*source_width * (long long)*source_height > max_pixels) return PAN_VIPS_TOO_LARGE;
    VipsImage *thumbnail = NULL;
    if (vips_thumbnail(source, &thumbnail, size, "height", size, "size", VIPS_SIZE_DOWN, "fail_on", VIPS_FAIL_ON_ERROR, NULL) != 0) {
        return PAN_VIPS_UNREADABLE;
    }
    // The pixels are computed here (the pipeline runs as the file is written):
    // a truncated input fails now, and is reported as unreadable.
    vips_image_set_progress(thumbnail, TRUE);
    g_signal_connect(thumbnail, "eval", G_CALLBACK(pan_vips_eval), &deadline);
    int saved = vips_webpsave(thumbnail, destination, "Q", quality, "strip", TRUE, NULL);
    *out_width = vips_image_get_width(thumbnail);
    *out_height = vips_image_get_height(thumbnail);
    g_object_unref(thumbnail);
    if (saved == 0) return PAN_VIPS_OK;
    return deadline.expired ? PAN_VIPS_TIMED_OUT : PAN_VIPS_UNREADABLE;
}
