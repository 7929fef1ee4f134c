/* The smallest C host: load the installed ppmg plugin, negotiate the ABI, create an engine
 * with the installed content, assess each record named on the command line, free everything.
 *
 *   ppmg_c_host [--plugin PATH] [--as-of YYYY-MM-DD] RECORD.json...
 *
 * The plugin path defaults to PPMG_EXAMPLE_PLUGIN, which the build takes from the installed
 * package (CMake: ${ppmg_PLUGIN}; pkg-config: --variable=plugin ppmg). */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ppmg/ppmg.h>

#ifndef PPMG_EXAMPLE_PLUGIN
#define PPMG_EXAMPLE_PLUGIN "libppmg_plugin.so"
#endif

static char* read_file(const char* path, size_t* size) {
    FILE* f = fopen(path, "rb");
    char* data = NULL;
    size_t used = 0, cap = 0, n;
    if (!f) return NULL;
    do {
        if (used == cap) {
            char* bigger = realloc(data, cap = cap ? cap * 2 : 65536);
            if (!bigger) {
                free(data);
                fclose(f);
                return NULL;
            }
            data = bigger;
        }
        n = fread(data + used, 1, cap - used, f);
        used += n;
    } while (n > 0);
    fclose(f);
    *size = used;
    return data;
}

/* Prints a failed call's error (owned by the caller: freed here) and returns 1. */
static int report(const ppmg_core_api_v1* api, const char* what, ppmg_status status, ppmg_error* error) {
    fprintf(stderr, "%s: %s: %s", what, api->status_name(status), error ? error->message : "(no details)");
    if (error && error->fhir_path) fprintf(stderr, " at %s", error->fhir_path);
    fputc('\n', stderr);
    api->error_free(error);
    return 1;
}

int main(int argc, char** argv) {
    const char* plugin_path = PPMG_EXAMPLE_PLUGIN;
    const char* as_of = NULL;
    void* library;
    const ppmg_plugin_entry* entry;
    const ppmg_core_api_v1* api;
    ppmg_engine_options options;
    ppmg_content_info info;
    ppmg_engine* engine = NULL;
    ppmg_error* error = NULL;
    ppmg_status status;
    uint32_t agreed;
    int i, failed = 0, records = 0;

    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i += 2) {
        if (i + 1 >= argc) break;
        if (strcmp(argv[i], "--plugin") == 0)
            plugin_path = argv[i + 1];
        else if (strcmp(argv[i], "--as-of") == 0)
            as_of = argv[i + 1];
        else
            break;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: %s [--plugin PATH] [--as-of YYYY-MM-DD] RECORD.json...\n", argv[0]);
        return 2;
    }

    /* 1. Load the plugin and find its one exported symbol. */
    library = dlopen(plugin_path, RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        fprintf(stderr, "cannot load %s: %s\n", plugin_path, dlerror());
        return 1;
    }
    entry = (const ppmg_plugin_entry*)dlsym(library, PPMG_ENTRY_SYMBOL);
    if (!entry) {
        fprintf(stderr, "%s is not a ppmg plugin\n", plugin_path);
        return 1;
    }

    /* 2. Agree on the ABI version: this host calls every member of its header unchecked, so it
     *    needs the plugin to speak this header's version (PPMG_ABI_VERSION) or a newer minor.
     *    negotiate_version (ABI 1.2) answers with the version both will use. */
    agreed = PPMG_ABI_VERSION;
    if (!PPMG_ENTRY_HAS_1_2(entry) || entry->negotiate_version(&agreed) != PPMG_OK || agreed != PPMG_ABI_VERSION) {
        fprintf(stderr, "%s speaks ABI %u.%u, this host needs %u.%u\n", plugin_path,
                (unsigned)PPMG_ABI_MAJOR_OF(entry->abi_version), (unsigned)PPMG_ABI_MINOR_OF(entry->abi_version),
                (unsigned)PPMG_ABI_VERSION_MAJOR, (unsigned)PPMG_ABI_VERSION_MINOR);
        return 1;
    }
    /* 3. Tell the plugin where it was loaded from: it finds the content installed beside it. */
    if (entry->init(plugin_path) != PPMG_OK) {
        fprintf(stderr, "%s refused its init\n", plugin_path);
        return 1;
    }
    api = (const ppmg_core_api_v1*)entry->get_api(PPMG_CORE_API_ID);
    if (!api || api->struct_size < sizeof(ppmg_core_api_v1)) {
        fprintf(stderr, "%s has no usable %s table\n", plugin_path, PPMG_CORE_API_ID);
        return 1;
    }

    /* 4. One engine for the whole process: content_dir NULL = the content installed beside
     *    the plugin. It is immutable, so any number of threads may share it. */
    memset(&options, 0, sizeof options);
    options.struct_size = sizeof options;
    options.custodian_name = "Example Hospital";
    status = api->engine_create(&options, &engine, &error);
    if (status != PPMG_OK) return report(api, "engine_create", status, error);

    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (api->content_info(engine, &info) == PPMG_OK)
        printf("plugin %s, content %s (sha256 %s)\n", info.plugin_version, info.content_version, info.content_sha256);

    /* 5. Assess each record. The record's bytes are borrowed for the call only; the output
     *    buffer and any error are the caller's to free with the plugin's own free functions. */
    for (; i < argc; ++i) {
        ppmg_request request;
        ppmg_buffer* out = NULL;
        size_t size = 0;
        char* record = read_file(argv[i], &size);
        if (!record) {
            fprintf(stderr, "cannot read %s\n", argv[i]);
            failed = 1;
            continue;
        }
        memset(&request, 0, sizeof request);
        request.struct_size = sizeof request;
        request.data = record;
        request.size = size;
        request.output_format = PPMG_OUTPUT_JSON;
        request.as_of = as_of;
        request.source_name = argv[i];
        status = api->assess(engine, &request, &out, &error);
        free(record);
        if (status != PPMG_OK) {
            failed |= report(api, argv[i], status, error);
            error = NULL;
            continue;
        }
        printf("%s: %.*s\n", argv[i], (int)out->size, out->data);
        api->buffer_free(out);
        ++records;
    }

    /* 6. Destroy the engine, then unload: only once nothing the plugin returned is in use. */
    api->engine_destroy(engine);
    dlclose(library);
    printf("c_host: assessed %d record(s)\n", records);
    return failed;
}
