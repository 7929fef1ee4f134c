/* Drives the C ABI from plain C11, as the simplest host would: dlopen, negotiate, create an
 * engine, assess and render a record, check errors and misuse, free everything. */
#include <dlfcn.h>
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

    if (argc != 3) {
        fprintf(stderr, "usage: c_abi_test PLUGIN.so RECORD.json\n");
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
    CHECK(entry->negotiate(PPMG_ABI_VERSION) == PPMG_OK);
    CHECK(entry->negotiate((PPMG_ABI_VERSION_MAJOR + 1) << 16) == PPMG_E_VERSION);
    CHECK(entry->get_api("ppmg.core/999") == NULL);
    CHECK(entry->get_api(NULL) == NULL);
    api = (const ppmg_core_api_v1*)entry->get_api(PPMG_CORE_API_ID);
    CHECK(api != NULL && api->struct_size >= sizeof(ppmg_core_api_v1));
    if (!api) return 1;

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
