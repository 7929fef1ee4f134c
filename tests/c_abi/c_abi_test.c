/* Drives the C ABI from plain C11, as the simplest host would: dlopen, negotiate, init, create an
 * engine, assess and render a record, check errors and misuse, free everything.
 *
 *   c_abi_test PLUGIN.so RECORD.json             as a host built against this header (ABI 1.2)
 *   c_abi_test PLUGIN.so RECORD.json --host-1.1  as a host built against ABI 1.1: negotiate(1.1),
 *                                                no init, 1.1-sized requests */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ppmg/ppmg.h"

static int failures = 0;
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            ++failures;                                                              \
        }                                                                            \
    } while (0)

static char* slurp(const char* path, size_t* size) {
    FILE* f = fopen(path, "rb");
    char* data;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)n + 1);
    if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        data = NULL;
    }
    fclose(f);
    if (data) data[n] = '\0';
    *size = (size_t)n;
    return data;
}

/* ppmg_request as ABI 1.1 declared it: it ends before audience and language (its two enums were
 * int-sized, as the int32_t typedefs of 1.2 are). */
typedef struct request_1_1 {
    uint32_t struct_size;
    const char* data;
    size_t size;
    int32_t input_format;
    int32_t output_format;
    const char* as_of;
    const char* patient_id;
    const char* source_name;
} request_1_1;
_Static_assert(sizeof(request_1_1) == PPMG_REQUEST_SIZE_1_1, "the 1.1 request is the 1.2 request's prefix");
_Static_assert(offsetof(request_1_1, source_name) == offsetof(ppmg_request, source_name), "same prefix");

static request_1_1 request11(const char* data, size_t size, int32_t output) {
    request_1_1 r;
    memset(&r, 0, sizeof r);
    r.struct_size = (uint32_t)sizeof r;
    r.data = data;
    r.size = size;
    r.output_format = output;
    r.as_of = "2025-11-15";
    r.source_name = "record-1.1";
    return r;
}

/* Calls fn with a 1.1-sized request twice: in a heap block of exactly its size (AddressSanitizer
 * reports a read past it), and followed by bytes that are no valid audience or language (a plugin
 * that read them would refuse the request or crash). */
typedef ppmg_status (*call_fn)(const ppmg_engine*, const ppmg_request*, ppmg_buffer**, ppmg_error**);
static void check11(const ppmg_core_api_v1* api, call_fn fn, const ppmg_engine* engine, request_1_1 r,
                    const char* expect) {
    struct {
        request_1_1 request;
        unsigned char after[32];
    } padded;
    request_1_1* exact = malloc(sizeof r);
    int round;
    CHECK(exact != NULL);
    if (!exact) return;
    memcpy(exact, &r, sizeof r);
    padded.request = r;
    memset(padded.after, 0xA5, sizeof padded.after);
    for (round = 0; round < 2; ++round) {
        ppmg_buffer* out = NULL;
        ppmg_error* error = NULL;
        const ppmg_request* req = round == 0 ? (const ppmg_request*)exact : (const ppmg_request*)&padded.request;
        ppmg_status s = fn(engine, req, &out, &error);
        CHECK(s == PPMG_OK && out != NULL);
        if (s != PPMG_OK) fprintf(stderr, "1.1-sized request: %s\n", error ? error->message : "?");
        if (out) CHECK(strstr(out->data, expect) != NULL);
        api->buffer_free(out);
        api->error_free(error);
    }
    free(exact);
}

/* A host built against ABI 1.1: it negotiates 1.1 with the 1.0 call, never calls init (it has no
 * such member), leaves content_dir NULL and sends 1.1-sized requests. */
static int run_as_host_1_1(const ppmg_plugin_entry* entry, const char* record, size_t size) {
    const ppmg_core_api_v1* api;
    ppmg_engine_options options;
    ppmg_engine* engine = NULL;
    ppmg_error* error = NULL;
    ppmg_status s;
    CHECK(entry->negotiate((1u << 16) | 1u) == PPMG_OK);
    api = (const ppmg_core_api_v1*)entry->get_api(PPMG_CORE_API_ID);
    CHECK(api != NULL);
    if (!api) return 1;
    memset(&options, 0, sizeof options);
    options.struct_size = sizeof options; /* unchanged since 1.0 */
    s = api->engine_create(&options, &engine, &error);
    CHECK(s == PPMG_OK && engine != NULL);
    if (s != PPMG_OK) {
        fprintf(stderr, "engine_create without init: %s\n", error ? error->message : "?");
        api->error_free(error);
        return 1;
    }
    check11(api, api->assess, engine, request11(record, size, PPMG_OUTPUT_JSON), "\"applicable\":true");
    check11(api, api->render, engine, request11(record, size, PPMG_OUTPUT_CDA), "<ClinicalDocument");
    api->engine_destroy(engine);
    return 0;
}

/* ABI 1.2: the agreed version comes back (the lower minor, same major). */
static void check_negotiation(const ppmg_plugin_entry* entry) {
    uint32_t v;
    CHECK(PPMG_ENTRY_HAS_1_2(entry));
    if (!PPMG_ENTRY_HAS_1_2(entry)) return;
    v = PPMG_ABI_VERSION;
    CHECK(entry->negotiate_version(&v) == PPMG_OK && v == PPMG_ABI_VERSION);
    v = (1u << 16) | 1u; /* a 1.1 host */
    CHECK(entry->negotiate_version(&v) == PPMG_OK && v == ((1u << 16) | 1u));
    v = (1u << 16) | 99u; /* a newer host: it gets what the plugin has */
    CHECK(entry->negotiate_version(&v) == PPMG_OK && v == entry->abi_version);
    v = 2u << 16; /* another major */
    CHECK(entry->negotiate_version(&v) == PPMG_E_VERSION && v == entry->abi_version);
    CHECK(entry->negotiate_version(NULL) == PPMG_E_INVALID_ARGUMENT);
}

/* init: the plugin finds its content from the path it is given, and only from there. */
static void check_init(const ppmg_plugin_entry* entry, const ppmg_core_api_v1* api, const char* plugin_path) {
    ppmg_engine_options options;
    ppmg_engine* engine = NULL;
    ppmg_error* error = NULL;
    ppmg_status s;
    CHECK(entry->init(NULL) == PPMG_E_INVALID_ARGUMENT);
    CHECK(entry->init("") == PPMG_E_INVALID_ARGUMENT);
    /* A path with no content beside it: engine_create says where it looked. */
    CHECK(entry->init("/nonexistent-ppmg-prefix/lib/libppmg_plugin.so") == PPMG_OK);
    memset(&options, 0, sizeof options);
    options.struct_size = sizeof options;
    s = api->engine_create(&options, &engine, &error);
    CHECK(s == PPMG_E_CONTENT && engine == NULL && error != NULL);
    if (error) CHECK(strstr(error->message, "/nonexistent-ppmg-prefix/lib/../share/ppmg/content") != NULL);
    api->error_free(error);
    CHECK(entry->init(plugin_path) == PPMG_OK);
}

/* The limits are capped: an enormous nesting limit no longer costs an allocation that fails, and
 * the thread's JSON parser keeps working for every engine after it (issue 13, item 1). */
static void check_depth_cap(const ppmg_core_api_v1* api, const ppmg_engine* normal, ppmg_request request) {
    ppmg_engine_options options;
    ppmg_engine* deep = NULL;
    ppmg_buffer* out = NULL;
    ppmg_error* error = NULL;
    ppmg_status s;
    memset(&options, 0, sizeof options);
    options.struct_size = sizeof options;
    options.limits.max_depth = UINT32_MAX;
    options.limits.max_input_bytes = UINT64_MAX;
    options.limits.max_resources = UINT32_MAX;
    options.limits.max_string_bytes = UINT32_MAX;
    CHECK(api->engine_create(&options, &deep, NULL) == PPMG_OK);
    if (!deep) return;
    request.output_format = PPMG_OUTPUT_JSON;
    CHECK(api->assess(normal, &request, &out, NULL) == PPMG_OK); /* the thread's parser, sized */
    api->buffer_free(out);
    out = NULL;
    s = api->assess(deep, &request, &out, &error);
    CHECK(s == PPMG_OK);
    if (s != PPMG_OK) fprintf(stderr, "assess with max_depth UINT32_MAX: %s\n", error ? error->message : "?");
    api->buffer_free(out);
    api->error_free(error);
    out = NULL;
    error = NULL;
    s = api->assess(normal, &request, &out, &error); /* crashed when the parser was left broken */
    CHECK(s == PPMG_OK && out != NULL);
    api->buffer_free(out);
    api->error_free(error);
    api->engine_destroy(deep);
}

/* Sizes no buffer can have are refused before anything is read, whatever the limits (issue 13,
 * item 2); an empty as_of is refused, only NULL means today (item 3). */
static void check_impossible_requests(const ppmg_core_api_v1* api, ppmg_request request) {
    ppmg_engine_options options;
    ppmg_engine* roomy = NULL;
    ppmg_buffer* out = NULL;
    ppmg_error* error = NULL;
    static const char tiny[] = "{}";
    memset(&options, 0, sizeof options);
    options.struct_size = sizeof options;
    options.limits.max_input_bytes = UINT64_MAX;
    CHECK(api->engine_create(&options, &roomy, NULL) == PPMG_OK);
    if (!roomy) return;
    request.data = tiny;
    request.size = SIZE_MAX;
    CHECK(api->assess(roomy, &request, &out, &error) == PPMG_E_INVALID_ARGUMENT && out == NULL);
    if (error) CHECK(strstr(error->message, "size") != NULL);
    api->error_free(error);
    error = NULL;
    request.size = (size_t)PTRDIFF_MAX + 1u;
    CHECK(api->render(roomy, &request, &out, NULL) == PPMG_E_INVALID_ARGUMENT && out == NULL);
    request.data = (const char*)(uintptr_t)(UINTPTR_MAX - 15u); /* data + size wraps around */
    request.size = 64;
    CHECK(api->assess(roomy, &request, &out, NULL) == PPMG_E_INVALID_ARGUMENT && out == NULL);
    api->engine_destroy(roomy);
}

static void check_as_of(const ppmg_core_api_v1* api, const ppmg_engine* engine, ppmg_request request) {
    ppmg_buffer* out = NULL;
    ppmg_error* error = NULL;
    request.as_of = "";
    CHECK(api->assess(engine, &request, &out, &error) == PPMG_E_INVALID_ARGUMENT && out == NULL);
    if (error) CHECK(strstr(error->message, "as_of") != NULL);
    api->error_free(error);
    CHECK(api->render(engine, &request, &out, NULL) == PPMG_E_INVALID_ARGUMENT && out == NULL);
    request.as_of = NULL; /* today */
    CHECK(api->assess(engine, &request, &out, NULL) == PPMG_OK);
    api->buffer_free(out);
}

int main(int argc, char** argv) {
    void* lib;
    const ppmg_plugin_entry* entry;
    const ppmg_core_api_v1* api;
    ppmg_engine_options options;
    ppmg_engine* engine = NULL;
    ppmg_error* error = NULL;
    ppmg_request request;
    ppmg_buffer* out = NULL;
    ppmg_content_info info;
    size_t size = 0;
    char* record;
    ppmg_status s;

    if (argc != 3 && !(argc == 4 && strcmp(argv[3], "--host-1.1") == 0)) {
        fprintf(stderr, "usage: c_abi_test PLUGIN.so RECORD.json [--host-1.1]\n");
        return 2;
    }
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    entry = (const ppmg_plugin_entry*)dlsym(lib, PPMG_ENTRY_SYMBOL);
    CHECK(entry != NULL);
    if (!entry) return 1;
    CHECK(PPMG_ABI_MAJOR_OF(entry->abi_version) == PPMG_ABI_VERSION_MAJOR);
    /* The declaration in ppmg.h and the object dlsym finds are the same type. */
    CHECK(sizeof ppmg_entry == sizeof *entry);
    if (argc == 4) {
        record = slurp(argv[2], &size);
        CHECK(record != NULL);
        if (!record || run_as_host_1_1(entry, record, size) != 0) failures += 1;
        free(record);
        dlclose(lib);
        if (failures) {
            fprintf(stderr, "%d check(s) failed\n", failures);
            return 1;
        }
        printf("c_abi (as an ABI 1.1 host): all checks passed\n");
        return 0;
    }
    check_negotiation(entry);
    CHECK(entry->negotiate(PPMG_ABI_VERSION) == PPMG_OK);
    CHECK(entry->negotiate((PPMG_ABI_VERSION_MAJOR + 1) << 16) == PPMG_E_VERSION);
    CHECK(entry->get_api("ppmg.core/999") == NULL);
    CHECK(entry->get_api(NULL) == NULL);
    api = (const ppmg_core_api_v1*)entry->get_api(PPMG_CORE_API_ID);
    CHECK(api != NULL && api->struct_size >= sizeof(ppmg_core_api_v1));
    if (!api) return 1;
    check_init(entry, api, argv[1]);

    /* A wrong struct size is refused, not trusted. */
    memset(&options, 0, sizeof options);
    options.struct_size = 4;
    s = api->engine_create(&options, &engine, &error);
    CHECK(s == PPMG_E_INVALID_ARGUMENT && engine == NULL && error != NULL);
    if (error) CHECK(error->message != NULL && strstr(error->message, "struct_size") != NULL);
    api->error_free(error);
    error = NULL;
    CHECK(api->engine_create(&options, NULL, NULL) == PPMG_E_INVALID_ARGUMENT);

    options.struct_size = sizeof options;
    s = api->engine_create(&options, &engine, &error);
    CHECK(s == PPMG_OK && engine != NULL && error == NULL);
    if (s != PPMG_OK) {
        fprintf(stderr, "engine_create: %s\n", error ? error->message : "?");
        return 1;
    }
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    CHECK(api->content_info(engine, &info) == PPMG_OK);
    CHECK(info.content_sha256 != NULL && strlen(info.content_sha256) == 64);

    record = slurp(argv[2], &size);
    CHECK(record != NULL);
    memset(&request, 0, sizeof request);
    request.struct_size = sizeof request;
    request.data = record;
    request.size = size;
    request.as_of = "2025-11-15";
    request.source_name = argv[2];

    s = api->assess(engine, &request, &out, &error);
    CHECK(s == PPMG_OK && out != NULL && error == NULL);
    if (out) {
        CHECK(out->data[out->size] == '\0');
        CHECK(strstr(out->data, "\"applicable\":true") != NULL);
        CHECK(strstr(out->data, "\"abdominal\"") != NULL);
    }
    api->buffer_free(out);
    out = NULL;

    request.output_format = PPMG_OUTPUT_CDA;
    s = api->render(engine, &request, &out, &error);
    CHECK(s == PPMG_OK && out != NULL);
    if (out) CHECK(strstr(out->data, "<ClinicalDocument") != NULL);
    api->buffer_free(out);
    out = NULL;

    /* ABI 1.1: both from one call, when the table has the member. */
    CHECK(PPMG_CORE_API_HAS(api, assess_and_render));
    if (PPMG_CORE_API_HAS(api, assess_and_render)) {
        ppmg_buffer* doc = NULL;
        request.output_format = PPMG_OUTPUT_DEFAULT;
        s = api->assess_and_render(engine, &request, &out, &doc, &error);
        CHECK(s == PPMG_OK && out != NULL && doc != NULL && error == NULL);
        if (out) CHECK(strstr(out->data, "\"applicable\":true") != NULL);
        if (doc) CHECK(strstr(doc->data, "<ClinicalDocument") != NULL && doc->data[doc->size] == '\0');
        api->buffer_free(out);
        api->buffer_free(doc);
        out = NULL;
        doc = (ppmg_buffer*)&request;             /* must come back NULL */
        request.output_format = PPMG_OUTPUT_JSON; /* the document cannot be JSON */
        s = api->assess_and_render(engine, &request, &out, &doc, &error);
        CHECK(s == PPMG_E_UNSUPPORTED && out == NULL && doc == NULL && error != NULL);
        api->error_free(error);
        error = NULL;
        request.output_format = PPMG_OUTPUT_DEFAULT;
        CHECK(api->assess_and_render(engine, &request, &out, NULL, NULL) == PPMG_E_INVALID_ARGUMENT);
        CHECK(out == NULL);
    }

    check_depth_cap(api, engine, request);
    check_impossible_requests(api, request);
    check_as_of(api, engine, request);
    {
        /* A 1.1-sized request to a 1.2 host's engine: the missing members take their defaults. */
        check11(api, api->assess, engine, request11(record, size, PPMG_OUTPUT_JSON), "\"applicable\":true");
        /* One member short of 1.1 is refused. */
        request_1_1 short11 = request11(record, size, PPMG_OUTPUT_JSON);
        short11.struct_size = (uint32_t)offsetof(request_1_1, source_name);
        CHECK(api->assess(engine, (const ppmg_request*)&short11, &out, NULL) == PPMG_E_INVALID_ARGUMENT);
        /* ABI 1.2 members are checked: an audience no version defines is refused. */
        request.audience = 77;
        CHECK(api->assess(engine, &request, &out, NULL) == PPMG_E_INVALID_ARGUMENT && out == NULL);
        request.audience = PPMG_AUDIENCE_CLINICIAN;
    }

    /* Bad input: a status, an error with a message and the file, and no output. */
    request.data = "{\"resourceType\": \"Bundle\", \"entry\": [";
    request.size = strlen(request.data);
    request.output_format = PPMG_OUTPUT_DEFAULT;
    s = api->render(engine, &request, &out, &error);
    CHECK(s == PPMG_E_PARSE && out == NULL && error != NULL);
    if (error) {
        CHECK(error->status == PPMG_E_PARSE);
        CHECK(error->file != NULL && strcmp(error->file, argv[2]) == 0);
    }
    api->error_free(error);
    error = NULL;

    /* Misuse: NULL request, NULL output, wrong sizes, unknown enum values. */
    CHECK(api->assess(engine, NULL, &out, &error) == PPMG_E_INVALID_ARGUMENT);
    api->error_free(error);
    error = NULL;
    CHECK(api->assess(engine, &request, NULL, NULL) == PPMG_E_INVALID_ARGUMENT);
    CHECK(api->assess(NULL, &request, &out, NULL) == PPMG_E_BAD_HANDLE);
    request.struct_size = 8;
    CHECK(api->assess(engine, &request, &out, NULL) == PPMG_E_INVALID_ARGUMENT);
    request.struct_size = sizeof request;
    request.output_format = (ppmg_output_format)77;
    CHECK(api->assess(engine, &request, &out, NULL) == PPMG_E_INVALID_ARGUMENT);
    CHECK(out == NULL);
    CHECK(strcmp(api->status_name(PPMG_E_LIMIT), "PPMG_E_LIMIT") == 0);
    api->buffer_free(NULL);
    api->error_free(NULL);

    /* After destroy the handle is refused, not dereferenced. */
    api->engine_destroy(engine);
    request.output_format = PPMG_OUTPUT_DEFAULT;
    CHECK(api->assess(engine, &request, &out, NULL) == PPMG_E_BAD_HANDLE);
    api->engine_destroy(engine); /* a second destroy is ignored */
    api->engine_destroy(NULL);

    free(record);
    dlclose(lib);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("c_abi: all checks passed\n");
    return 0;
}
