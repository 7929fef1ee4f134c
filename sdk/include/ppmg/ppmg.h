/*
 * ppmg.h - the C ABI of the ppmg postpartum massage guidance plugin.
 *
 * The plugin is a shared library that exports exactly one symbol, `ppmg_entry`
 * (declared at the end of this header; PPMG_ENTRY_SYMBOL for dlsym). Its first
 * field is the ABI version; the host checks the major version, agrees on a
 * version (negotiate_version), tells the plugin where it was loaded from (init),
 * then asks `get_api` for a function table by a versioned string id
 * (PPMG_CORE_API_ID). Tables and structs only ever grow at the end.
 *
 * Ownership, in one sentence of the same shape each time:
 *   - "Owned by the plugin, valid until <event>": do not free it.
 *   - "Owned by the caller after return; free it with <function>".
 *
 * Threads: every function says which threads may call it. An engine is
 * immutable after creation, so assess/render may run on many threads at once.
 *
 * Errors: every function returns a ppmg_status; nothing ever throws or aborts
 * across this boundary. Details come back in an optional ppmg_error.
 *
 * Types that cross the boundary have fixed widths: every enumerated value is an
 * int32_t typedef (ppmg_status, ppmg_input_format, ...) with its values in an
 * anonymous enum, never a C enum type, whose size a compiler may choose.
 *
 * This header is plain C11 and also compiles as C++17.
 */
#ifndef PPMG_PPMG_H
#define PPMG_PPMG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Versions ---------------------------------------------------------- */

/** ABI major: bumped on any incompatible change; a host refuses another major. */
#define PPMG_ABI_VERSION_MAJOR 1u
/** ABI minor: bumped when something is appended (tables grow at the end). */
#define PPMG_ABI_VERSION_MINOR 2u
/** The packed ABI version: major in the high 16 bits, minor in the low 16. */
#define PPMG_ABI_VERSION ((PPMG_ABI_VERSION_MAJOR << 16) | PPMG_ABI_VERSION_MINOR)
#define PPMG_ABI_MAJOR_OF(v) ((uint32_t)(v) >> 16)
#define PPMG_ABI_MINOR_OF(v) ((uint32_t)(v)&0xFFFFu)

/** The one symbol the plugin exports (the object ppmg_entry, declared at the end). */
#define PPMG_ENTRY_SYMBOL "ppmg_entry"
/** Id of the core function table (ppmg_core_api_v1). */
#define PPMG_CORE_API_ID "ppmg.core/1"

/* ---- The product's identifiers (clinical-rules.md, "Identifiers owned by the product") ---- */

/** The product's OID root (a UUID-derived OID, ITU-T X.667). Every other OID is an arc of it. */
#define PPMG_OID_ROOT "2.25.318214975805081609918790724903688664766"
/** .1: the local code system (massage types, outcomes, wound status); as a FHIR system:
 *  PPMG_CODE_SYSTEM_URI. */
#define PPMG_OID_CODE_SYSTEM PPMG_OID_ROOT ".1"
#define PPMG_CODE_SYSTEM_URI "urn:oid:" PPMG_OID_CODE_SYSTEM
/** .2.N: template ids; .2.1 is the guidance document, version 1. */
#define PPMG_OID_TEMPLATES PPMG_OID_ROOT ".2"
#define PPMG_OID_TEMPLATE_GUIDANCE PPMG_OID_TEMPLATES ".1"
/** .3: root of a patient identifier whose FHIR system is not an OID or UUID. */
#define PPMG_OID_IDENTIFIER PPMG_OID_ROOT ".3"
/** .4: root of the FHIR Patient logical id. */
#define PPMG_OID_RECORD_ID PPMG_OID_ROOT ".4"
/** .5: the XML namespace of the content files, as urn:oid:. */
#define PPMG_CONTENT_NAMESPACE "urn:oid:" PPMG_OID_ROOT ".5"

#if defined(_WIN32)
#define PPMG_EXPORT __declspec(dllexport)
#else
#define PPMG_EXPORT __attribute__((visibility("default")))
#endif

/** Compile-time checks of the fixed widths below, in C11 and C++. */
#ifdef __cplusplus
#define PPMG_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define PPMG_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/** True when a struct the caller sized with struct_size (a ppmg_request, ppmg_engine_options,
 *  ppmg_content_info) is long enough to hold member: a host built against an older ABI minor
 *  passes a shorter struct, and the members it lacks take their defaults. */
#define PPMG_STRUCT_HAS(ptr, type, member) \
    ((ptr)->struct_size >= offsetof(type, member) + sizeof(((const type*)0)->member))

/* ---- Status codes ------------------------------------------------------ */

/** A status code: PPMG_OK or one of the PPMG_E_* values. A host treats a value it does not
 *  know (from a newer plugin) as a failure and shows status_name(). */
typedef int32_t ppmg_status;
enum {
    PPMG_OK = 0,
    /** A NULL pointer, a wrong struct_size, an unknown enum value or a bad date. */
    PPMG_E_INVALID_ARGUMENT = 1,
    /** The host and the plugin do not share an ABI major version. */
    PPMG_E_VERSION = 2,
    /** The clinical content is missing, or fails its schema or consistency checks. */
    PPMG_E_CONTENT = 3,
    /** The input is not well-formed JSON or XML (truncated, bad syntax). */
    PPMG_E_PARSE = 4,
    /** The input is well-formed but not a FHIR R4 record we accept. */
    PPMG_E_NOT_FHIR = 5,
    /** The record holds no Patient resource. */
    PPMG_E_NO_PATIENT = 6,
    /** The record holds several Patients and none could be chosen. */
    PPMG_E_AMBIGUOUS_PATIENT = 7,
    /** The input exceeds a configured limit (size, depth, resources, string). */
    PPMG_E_LIMIT = 8,
    /** The input is not valid UTF-8 or holds NUL bytes. */
    PPMG_E_ENCODING = 9,
    /** The requested input or output format is not supported. */
    PPMG_E_UNSUPPORTED = 10,
    /** The engine handle is not a live engine (NULL, destroyed, or foreign). */
    PPMG_E_BAD_HANDLE = 11,
    /** Memory ran out. */
    PPMG_E_NO_MEMORY = 12,
    /** A bug in the plugin: please report it with the message. */
    PPMG_E_INTERNAL = 13
};

/* ---- Error object ------------------------------------------------------ */

/**
 * Details of a failed call. Every string is UTF-8 and NUL-terminated; a
 * location field is NULL when it does not apply.
 * Owned by the caller after return; free it with ppmg_core_api_v1.error_free.
 */
typedef struct ppmg_error {
    uint32_t struct_size;    /**< sizeof(ppmg_error) of the plugin that made it */
    ppmg_status status;      /**< the same code the call returned */
    const char* message;     /**< one line for a person; never NULL */
    const char* file;        /**< the request's source_name, or a content file */
    const char* fhir_path;   /**< e.g. "Bundle.entry[3].resource.subject" */
    const char* resource_id; /**< e.g. "Observation/bp-1" */
    int64_t line;            /**< 1-based line in the input, or 0 when unknown */
} ppmg_error;

/* ---- Engine ------------------------------------------------------------ */

/** An opaque engine: loaded, validated content plus configuration. */
typedef struct ppmg_engine ppmg_engine;

/** Input limits; 0 in a field means "use the default". A value above the field's maximum
 *  (PPMG_LIMIT_MAX_*) is taken as that maximum when the engine is created. */
typedef struct ppmg_limits {
    uint64_t max_input_bytes;  /**< default 64 MiB, at most PPMG_LIMIT_MAX_INPUT_BYTES */
    uint32_t max_depth;        /**< JSON/XML nesting, default 64, at most PPMG_LIMIT_MAX_DEPTH */
    uint32_t max_resources;    /**< resources in one record, default 100000, at most PPMG_LIMIT_MAX_RESOURCES */
    uint32_t max_string_bytes; /**< one string value, default 1 MiB, at most PPMG_LIMIT_MAX_STRING_BYTES */
} ppmg_limits;

/** The largest limits an engine takes (ABI 1.2; a 1.1 plugin took any value). They bound what
 *  one call may cost a host whatever its configuration: the JSON parser alone needs about 13
 *  bytes per input byte. */
#define PPMG_LIMIT_MAX_INPUT_BYTES ((uint64_t)1 << 30) /* 1 GiB */
#define PPMG_LIMIT_MAX_DEPTH 1024u
#define PPMG_LIMIT_MAX_RESOURCES 10000000u
#define PPMG_LIMIT_MAX_STRING_BYTES (1u << 30) /* 1 GiB */

/** Options for engine_create. Zero-initialise, then set struct_size. */
typedef struct ppmg_engine_options {
    uint32_t struct_size; /**< sizeof(ppmg_engine_options) */
    /** Directory holding the content (ppmg-content.xml, schema/, xsl/); NULL = the
     *  content installed beside the plugin (see ppmg_plugin_entry.init). */
    const char* content_dir;
    /** Custodian organisation written into every CDA document; NULL = "ppmg". */
    const char* custodian_name;
    /** Root OID of the custodian's identifiers; NULL = the ppmg OID root. */
    const char* custodian_oid;
    ppmg_limits limits;
} ppmg_engine_options;

/* ---- Requests ---------------------------------------------------------- */

/** The record's format: one of the PPMG_INPUT_* values. */
typedef int32_t ppmg_input_format;
enum {
    PPMG_INPUT_AUTO = 0, /**< sniff by content: FHIR JSON, FHIR XML, C-CDA or HL7 v2 */
    PPMG_INPUT_FHIR_JSON = 1,
    PPMG_INPUT_FHIR_XML = 2,
    /* ABI 1.2 */
    PPMG_INPUT_CCDA = 3, /**< a C-CDA R2.1 or R1.1 document (ClinicalDocument in urn:hl7-org:v3) */
    PPMG_INPUT_HL7V2 = 4 /**< one or more HL7 v2.3-2.8 messages in ER7 (pipe) encoding */
};

/** What a call writes: one of the PPMG_OUTPUT_* values. */
typedef int32_t ppmg_output_format;
enum {
    PPMG_OUTPUT_DEFAULT = 0, /**< JSON for assess, CDA for render */
    PPMG_OUTPUT_JSON = 1,    /**< assess only */
    PPMG_OUTPUT_TEXT = 2,    /**< assess only: plain words for people */
    PPMG_OUTPUT_CDA = 3,     /**< render only */
    PPMG_OUTPUT_HTML = 4,    /**< render only: CDA through content/xsl */
    /* ABI 1.2 */
    PPMG_OUTPUT_MDM = 5 /**< render only: an HL7 v2 MDM^T02 message carrying the CDA (Base64, OBX-5 ED) */
};

/** Who reads the document (ABI 1.2): one of the PPMG_AUDIENCE_* values. */
typedef int32_t ppmg_audience;
enum {
    PPMG_AUDIENCE_CLINICIAN = 0, /**< the clinician's guidance (the default) */
    PPMG_AUDIENCE_PATIENT = 1    /**< the handout for the mother, in plain language */
};

/* ABI 1.0 and 1.1 declared these as C enums, which every supported compiler laid out as 4-byte
 * ints: the same size, alignment and calling convention as int32_t. */
PPMG_STATIC_ASSERT(sizeof(ppmg_status) == 4, "ppmg_status is 32 bits");
PPMG_STATIC_ASSERT(sizeof(ppmg_input_format) == 4, "ppmg_input_format is 32 bits");
PPMG_STATIC_ASSERT(sizeof(ppmg_output_format) == 4, "ppmg_output_format is 32 bits");
PPMG_STATIC_ASSERT(sizeof(ppmg_audience) == 4, "ppmg_audience is 32 bits");

/** One request. Zero-initialise, then set struct_size and the fields you need. */
typedef struct ppmg_request {
    uint32_t struct_size; /**< sizeof(ppmg_request); PPMG_REQUEST_SIZE_1_1 from a 1.0 or 1.1 host */
    const char* data;     /**< the record's bytes; borrowed for the call only */
    /** Number of bytes at data. A size no buffer can have (data + size past the end of the
     *  address space, or over PTRDIFF_MAX) is refused whatever the limits. */
    size_t size;
    ppmg_input_format input_format;
    ppmg_output_format output_format;
    /** "YYYY-MM-DD" the rules evaluate as of; NULL = today (host clock, UTC). An empty string
     *  is refused (PPMG_E_INVALID_ARGUMENT): only NULL means today. */
    const char* as_of;
    /** Patient.id to assess when the record holds several; NULL = choose. */
    const char* patient_id;
    /** Name of the input for error messages (e.g. a file path); may be NULL. */
    const char* source_name;

    /* ---- ABI 1.2: a host built against 1.1 passes a shorter struct_size ---- */

    /** Who reads the document: clinician (default) or patient (render only). */
    ppmg_audience audience;
    /** BCP 47 language of the document: "en" (NULL = "en") or "zh-CN". */
    const char* language;
} ppmg_request;

/** sizeof(ppmg_request) in ABI 1.0 and 1.1, before audience and language: the smallest
 *  struct_size a plugin accepts. A shorter request's missing members take their defaults
 *  (PPMG_AUDIENCE_CLINICIAN, "en"). */
#define PPMG_REQUEST_SIZE_1_1 offsetof(ppmg_request, audience)

/**
 * Output bytes. Not NUL-terminated in `size`, though data[size] is '\0'.
 * Owned by the caller after return; free it with ppmg_core_api_v1.buffer_free.
 */
typedef struct ppmg_buffer {
    const char* data;
    size_t size;
} ppmg_buffer;

/** Facts about the loaded content, for display. */
typedef struct ppmg_content_info {
    uint32_t struct_size;
    const char* content_version; /**< owned by the plugin, valid until engine_destroy */
    const char* content_sha256;  /**< lowercase hex; same lifetime */
    const char* plugin_version;  /**< owned by the plugin, valid while it is loaded */
} ppmg_content_info;

/* ---- The core function table ------------------------------------------- */

/**
 * Found with get_api(PPMG_CORE_API_ID). Owned by the plugin, valid while the
 * plugin is loaded. Append-only: new members go at the end, and struct_size
 * tells the host which are there.
 */
typedef struct ppmg_core_api_v1 {
    uint32_t struct_size;

    /** Loads and validates the content; *out is NULL on failure.
     *  Threads: any; the new engine may then be shared by all threads.
     *  *out is owned by the caller after return; free it with engine_destroy. */
    ppmg_status (*engine_create)(const ppmg_engine_options* options, ppmg_engine** out, ppmg_error** error);

    /** Frees the engine. NULL is ignored.
     *  Threads: any, once no other call on this engine is running. */
    void (*engine_destroy)(ppmg_engine* engine);

    /** Assesses the record; *out holds JSON (or text) on success, NULL otherwise.
     *  Threads: any, concurrently on one engine.
     *  *out is owned by the caller after return; free it with buffer_free. */
    ppmg_status (*assess)(const ppmg_engine* engine, const ppmg_request* request, ppmg_buffer** out,
                          ppmg_error** error);

    /** Renders the CDA R2 guidance document (or its HTML view); *out is NULL on
     *  failure, never a partial document.
     *  Threads: any, concurrently on one engine.
     *  *out is owned by the caller after return; free it with buffer_free. */
    ppmg_status (*render)(const ppmg_engine* engine, const ppmg_request* request, ppmg_buffer** out,
                          ppmg_error** error);

    /** Describes the engine's content. Threads: any.
     *  The strings are owned by the plugin, valid until engine_destroy. */
    ppmg_status (*content_info)(const ppmg_engine* engine, ppmg_content_info* out);

    /** Frees a buffer from assess or render. NULL is ignored. Threads: any. */
    void (*buffer_free)(ppmg_buffer* buffer);

    /** Frees an error. NULL is ignored. Threads: any. */
    void (*error_free)(ppmg_error* error);

    /** A short English name for a status, e.g. "PPMG_E_PARSE". Threads: any.
     *  Owned by the plugin, valid while it is loaded. */
    const char* (*status_name)(ppmg_status status);

    /* ---- ABI 1.1: check struct_size before calling (PPMG_CORE_API_HAS) ---- */

    /** assess and render in one call, from one reading of the record: what a host
     *  that wants both the assessment and the document would otherwise get from an
     *  assess call and a render call on the same request, at about the cost of one.
     *  *assessment holds the JSON assessment (request->output_format is for the
     *  document: DEFAULT or CDA for CDA, HTML for the HTML view; JSON and TEXT are
     *  refused). On failure both are NULL, never one without the other.
     *  Threads: any, concurrently on one engine.
     *  Both buffers are owned by the caller after return; free each with buffer_free. */
    ppmg_status (*assess_and_render)(const ppmg_engine* engine, const ppmg_request* request, ppmg_buffer** assessment,
                                     ppmg_buffer** document, ppmg_error** error);
} ppmg_core_api_v1;

/** True when the table (a ppmg_core_api_v1*) has the member: a plugin of an older
 *  ABI minor serves a shorter table. */
#define PPMG_CORE_API_HAS(api, member) \
    ((api)->struct_size >= offsetof(ppmg_core_api_v1, member) + sizeof((api)->member) && (api)->member != NULL)

/* ---- The entry point --------------------------------------------------- */

/** The one exported object. Owned by the plugin, valid while it is loaded. */
typedef struct ppmg_plugin_entry {
    /** PPMG_ABI_VERSION of the plugin; always the first field. */
    uint32_t abi_version;
    /** The plugin's semantic version, e.g. "1.0.0". */
    const char* plugin_version;
    /**
     * Negotiation as ABI 1.0 had it: the host passes the oldest ABI version it can work with
     * (PPMG_ABI_VERSION if it calls every member unchecked; a lower minor if it checks newer
     * members with PPMG_CORE_API_HAS); the plugin answers PPMG_OK if it can serve that major
     * and at least that minor, else PPMG_E_VERSION. A 1.2 host calls negotiate_version instead
     * when the plugin has it. Threads: any.
     */
    ppmg_status (*negotiate)(uint32_t host_abi_version);
    /**
     * Returns the const function table for a versioned id such as
     * PPMG_CORE_API_ID, or NULL when the plugin has no such table.
     * Owned by the plugin, valid while it is loaded. Threads: any.
     */
    const void* (*get_api)(const char* id);

    /* ---- ABI 1.2: present only when PPMG_ENTRY_HAS_1_2(entry); never read them otherwise
     * (an older plugin's object ends before them) ---- */

    /**
     * Negotiation that answers with the agreed version. In: *version is the newest ABI version
     * the host speaks (its PPMG_ABI_VERSION). Out: the version both sides will use, the same
     * major and the lower of the two minors; the host then checks it is at least the oldest
     * version it can work with. PPMG_E_VERSION (with *version set to the plugin's own version)
     * when the majors differ; PPMG_E_INVALID_ARGUMENT when version is NULL. Threads: any.
     */
    ppmg_status (*negotiate_version)(uint32_t* version);
    /**
     * Tells the plugin the path of its own file, as the host loaded it (absolute, or relative to
     * the working directory at this call). The plugin finds the content installed beside itself
     * from it: <dir>/../share/ppmg/content, or <dir>/../../share/ppmg/content from a multiarch
     * libdir (lib/x86_64-linux-gnu). Call it once, after negotiating and before engine_create;
     * a later call replaces the path for engines created after it. The plugin keeps a copy.
     * PPMG_E_INVALID_ARGUMENT when plugin_path is NULL or empty.
     * Without it (a host built against ABI 1.1), the plugin asks the dynamic loader where its
     * file is. Threads: any, though not concurrently with engine_create.
     */
    ppmg_status (*init)(const char* plugin_path);
} ppmg_plugin_entry;

/** True when the plugin's entry has the ABI 1.2 members (negotiate_version, init). */
#define PPMG_ENTRY_HAS_1_2(entry) \
    (PPMG_ABI_MAJOR_OF((entry)->abi_version) == 1u && PPMG_ABI_MINOR_OF((entry)->abi_version) >= 2u)

/** Signature of the exported object, for dlsym users. */
typedef const ppmg_plugin_entry ppmg_plugin_entry_t;

/**
 * The exported object itself, defined by the plugin (PPMG_ENTRY_SYMBOL). A host normally loads
 * the plugin with dlopen and finds it with dlsym(library, PPMG_ENTRY_SYMBOL); this declaration
 * is for the plugin's own definition, which the compiler then checks against it, and for a host
 * that links the plugin at build time. Owned by the plugin, valid while it is loaded.
 */
extern PPMG_EXPORT const ppmg_plugin_entry ppmg_entry;

#ifdef __cplusplus
}
#endif

#endif /* PPMG_PPMG_H */
