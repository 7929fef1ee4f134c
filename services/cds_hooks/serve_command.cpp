// `ppmg serve`: the plugin as a CDS Hooks 2.0 service (see docs/cds-hooks.md).
#include <sys/stat.h>

#include <Poco/Net/SocketAddress.h>

#include <iostream>

#include "cds_server.hpp"
#include "cli_common.hpp"
#include "serve_command.hpp"

namespace ppmg::cli {
namespace {

const char* kServeUsage =
    "usage: ppmg serve --listen HOST:PORT --public-url URL --jwks ISSUER=FILE [--jwks ISSUER2=FILE2 ...]\n"
    "                  [--tls-cert CERT.pem --tls-key KEY.pem] [options]\n"
    "       ppmg serve --listen HOST:PORT --insecure-no-auth [options]   (local demos only)\n"
    "\n"
    "Serves the CDS Hooks service postpartum-massage-guidance (hooks patient-view and\n"
    "encounter-discharge), GET /cds-services, POST /render and GET /healthz.\n"
    "\n"
    "  --listen HOST:PORT        address to listen on (port 0: any free port)\n"
    "  --jwks ISSUER=FILE        trust JWTs whose iss is ISSUER, signed with a key of the JWK Set FILE\n"
    "                            (ES384 on P-384, RS384); repeat for more issuers\n"
    "  --public-url URL          the base URL clients call; each JWT's aud must be URL/cds-services/...\n"
    "                            (required unless --insecure-no-auth; the Host field is never trusted)\n"
    "  --tls-cert F --tls-key F  serve HTTPS with this PEM certificate (chain) and key\n"
    "  --insecure-no-auth        accept calls without a JWT: local demos only\n"
    "  --source-url URL          card source.url (default: BASE/about)\n"
    "  --guidance-url URL        add a link to the full guidance to every card\n"
    "  --as-of YYYY-MM-DD        evaluate as of this date (default: today, UTC)\n"
    "  --access-log FILE|-|off   one JSON line per request (default: - = stderr)\n"
    "  --threads N (32)  --max-queued N (64)  --max-body-bytes N (8388608)\n"
    "  --max-connections N (1024)  --max-connections-per-client N (64)\n"
    "  --header-timeout S (10)  --request-timeout S (30, the whole request)\n"
    "  --keep-alive-timeout S (5)  --max-keep-alive-requests N (1000)\n"
    "  --shutdown-timeout S (30)  --clock-skew S (60)  --max-token-lifetime S (3600)\n"
    "  --store sqlite:PATH|postgresql://...  where AuditEvents, cards, feedback and view links are kept\n"
    "                            (default sqlite:ppmg-serve.db; PostgreSQL for several replicas)\n"
    "  --replay-cache memory|redis://HOST:PORT  where used JWT ids are remembered (default memory)\n"
    "  --fhir-allow URL_PREFIX   fetch what prefetch lacks from a call's fhirServer under this prefix\n"
    "                            (repeatable; without it nothing is ever fetched)\n"
    "  --fhir-budget-ms N (2000)  --fhir-max-pages N (20)  --fhir-max-bytes N (8388608)\n"
    "  --fhir-parallel N (4)     requests of one call in flight at once, each on a kept-alive connection\n"
    "  --fhir-max-connections N (16)  connections to one FHIR server in use at once, all calls together\n"
    "  --fhir-ca-file PEM        trust these CA certificates for fetching instead of the system's\n"
    "  --view-ttl S (900)        how long a card's link to its page stays valid\n"
    "  --plugin PATH  --content DIR  --custodian NAME  --custodian-oid OID\n"
    "\n"
    "SIGTERM or SIGINT stops it after the requests in progress. Exit status: 0 stopped cleanly,\n"
    "1 failure, 2 bad usage.\n";

bool isFile(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

int runServe(int argc, char** argv) {
    std::vector<std::string> valued = engineOptions();
    for (const char* o : {"--listen",
                          "--jwks",
                          "--public-url",
                          "--tls-cert",
                          "--tls-key",
                          "--source-url",
                          "--guidance-url",
                          "--as-of",
                          "--access-log",
                          "--threads",
                          "--max-queued",
                          "--max-body-bytes",
                          "--request-timeout",
                          "--keep-alive-timeout",
                          "--max-keep-alive-requests",
                          "--shutdown-timeout",
                          "--clock-skew",
                          "--max-token-lifetime",
                          "--header-timeout",
                          "--max-connections",
                          "--max-connections-per-client",
                          "--store",
                          "--replay-cache",
                          "--fhir-allow",
                          "--fhir-budget-ms",
                          "--fhir-max-pages",
                          "--fhir-max-bytes",
                          "--fhir-parallel",
                          "--fhir-max-connections",
                          "--fhir-ca-file",
                          "--view-ttl",
                          "--store-connections"})
        valued.push_back(o);
    Args args;
    cds::ServerConfig config;
    std::vector<std::pair<std::string, std::string>> issuers;  // issuer, file
    try {
        args = parseArgs(argc, argv, 2, valued, {"--insecure-no-auth", "--help", "-h"});
        if (args.has("--help") || args.has("-h")) {
            std::cout << kServeUsage;
            return kOk;
        }
        if (!args.positional.empty()) throw std::invalid_argument("unexpected argument \"" + args.positional[0] + "\"");
        config.listen = args.get("--listen");
        if (config.listen.empty()) throw std::invalid_argument("--listen HOST:PORT is required");
        try {
            Poco::Net::SocketAddress check(config.listen);
        } catch (const Poco::Exception& e) {
            throw std::invalid_argument("--listen must be HOST:PORT, got \"" + config.listen + "\" (" +
                                        e.displayText() + ")");
        }
        config.publicUrl = args.get("--public-url");
        if (!config.publicUrl.empty() && config.publicUrl.rfind("http://", 0) != 0 &&
            config.publicUrl.rfind("https://", 0) != 0)
            throw std::invalid_argument("--public-url must be an absolute http(s) URL, got \"" + config.publicUrl +
                                        "\"");
        config.tlsCert = args.get("--tls-cert");
        config.tlsKey = args.get("--tls-key");
        if (config.tlsCert.empty() != config.tlsKey.empty())
            throw std::invalid_argument("--tls-cert and --tls-key go together");
        config.insecureNoAuth = args.has("--insecure-no-auth");
        config.sourceUrl = args.get("--source-url");
        config.guidanceUrl = args.get("--guidance-url");
        config.asOf = args.get("--as-of");
        if (!config.asOf.empty() && (config.asOf.size() != 10 || config.asOf[4] != '-' || config.asOf[7] != '-'))
            throw std::invalid_argument("--as-of must be YYYY-MM-DD, got \"" + config.asOf + "\"");
        config.accessLog = args.get("--access-log", "-");
        config.threads = int(args.number("--threads", 32, 1, 1024));
        config.maxQueued = int(args.number("--max-queued", 64, 1, 100000));
        config.maxBodyBytes = size_t(args.number("--max-body-bytes", 8L << 20, 1024, 1L << 30));
        config.requestTimeoutSeconds = int(args.number("--request-timeout", 30, 1, 3600));
        config.headerTimeoutSeconds = int(args.number("--header-timeout", 10, 1, 3600));
        config.maxConnections = int(args.number("--max-connections", 1024, 16, 1000000));
        config.maxConnectionsPerClient = int(args.number("--max-connections-per-client", 64, 1, 1000000));
        config.keepAliveSeconds = int(args.number("--keep-alive-timeout", 5, 1, 3600));
        config.maxKeepAliveRequests = int(args.number("--max-keep-alive-requests", 1000, 1, 1000000));
        config.shutdownTimeoutSeconds = int(args.number("--shutdown-timeout", 30, 1, 3600));
        config.auth.clockSkewSeconds = args.number("--clock-skew", 60, 0, 600);
        config.auth.maxLifetimeSeconds = args.number("--max-token-lifetime", 3600, 1, 86400);
        config.scale.store = args.get("--store", "sqlite:ppmg-serve.db");
        config.scale.replayCache = args.get("--replay-cache", "memory");
        cds::makeReplayGuard(config.scale.replayCache);  // checks the spec (throws invalid_argument)
        if (args.has("--fhir-allow"))
            for (const std::string& prefix : args.options.at("--fhir-allow")) {
                std::string why;
                if (!cds::validAllowPrefix(prefix, why)) throw std::invalid_argument(why);
                config.scale.fetch.allow.push_back(prefix);
            }
        config.scale.fetch.budgetMs = int(args.number("--fhir-budget-ms", 2000, 10, 60000));
        config.scale.fetch.maxPages = int(args.number("--fhir-max-pages", 20, 1, 1000));
        config.scale.fetch.maxBytes = size_t(args.number("--fhir-max-bytes", 8L << 20, 1024, 1L << 30));
        config.scale.fetch.parallel = int(args.number("--fhir-parallel", 4, 1, 16));
        config.scale.fetch.maxConnections = int(args.number("--fhir-max-connections", 16, 1, 1024));
        config.scale.fetch.poolIdle = config.scale.fetch.maxConnections;
        config.scale.fetch.caFile = args.get("--fhir-ca-file");
        if (!config.scale.fetch.caFile.empty() && !isFile(config.scale.fetch.caFile))
            throw std::invalid_argument("--fhir-ca-file " + config.scale.fetch.caFile + " does not exist");
        config.scale.viewTtlSeconds = int(args.number("--view-ttl", 900, 10, 86400));
        config.scale.storeConnections = size_t(args.number("--store-connections", 16, 1, 256));
        if (args.has("--jwks")) {
            for (const std::string& spec : args.options.at("--jwks")) {
                // ISSUER=FILE; an issuer URL may hold '=' itself, so the split is where a file follows.
                std::string issuer, file;
                for (size_t eq = spec.rfind('='); eq != std::string::npos && eq > 0; eq = spec.rfind('=', eq - 1)) {
                    if (isFile(spec.substr(eq + 1))) {
                        issuer = spec.substr(0, eq);
                        file = spec.substr(eq + 1);
                        break;
                    }
                }
                if (issuer.empty()) {
                    if (spec.find('=') == std::string::npos || spec.find('=') == 0)
                        throw std::invalid_argument("--jwks must be ISSUER=FILE, got \"" + spec + "\"");
                    throw std::invalid_argument("--jwks " + spec + ": the file " + spec.substr(spec.rfind('=') + 1) +
                                                " does not exist");
                }
                issuers.emplace_back(issuer, file);
            }
        }
        if (issuers.empty() && !config.insecureNoAuth)
            throw std::invalid_argument("--jwks ISSUER=FILE is required (or --insecure-no-auth for a local demo)");
        // The audience every JWT must name is the URL clients call: only the configuration may say
        // it, never a request's Host field.
        if (config.publicUrl.empty() && !config.insecureNoAuth)
            throw std::invalid_argument(
                "--public-url URL is required: the URL clients call, which each JWT's aud must name (or "
                "--insecure-no-auth for a local demo)");
    } catch (const std::invalid_argument& e) {
        printError("serve", std::string(e.what()) + " (see ppmg serve --help)");
        return kBadInput;
    }

    auto keys = std::make_shared<cds::KeyStore>();
    for (const auto& [issuer, file] : issuers) {
        std::vector<std::string> skipped;
        try {
            keys->addIssuer(issuer, readFile(file), skipped);
        } catch (const std::exception& e) {
            printError(file, std::string("JWK Set for ") + issuer + ": " + e.what());
            return kBadInput;
        }
        for (const auto& note : skipped) printError(file, note);
    }

    // Before any thread exists, so that every thread inherits the mask and only sigwait sees them.
    cds::blockShutdownSignals();

    Session session;
    if (!openSessionOrReport(args, session)) return kFailure;
    const ppmg_content_info info = session.engine->info();
    cds::ContentFacts facts;
    facts.contentVersion = info.content_version ? info.content_version : "";
    facts.contentSha256 = info.content_sha256 ? info.content_sha256 : "";
    facts.pluginVersion = info.plugin_version ? info.plugin_version : "";
    // Beside the plugin, as the plugin finds it (the build tree has the installed layout); no
    // source-tree fallback, so no path of the build machine is compiled into the program.
    config.scale.contentDir =
        cds::findContentDir(args.get("--content"), session.plugin->path(), PPMG_INSTALL_CONTENT_REL, "");
    if (!config.insecureNoAuth)
        std::cerr << "ppmg serve: trusting " << keys->issuerCount() << " issuer(s), " << keys->keyCount() << " key(s)"
                  << std::endl;
    try {
        std::cerr << "ppmg serve: store " << cds::redactStoreSpec(config.scale.store) << ", replay cache "
                  << cds::makeReplayGuard(config.scale.replayCache)->describe() << ", fetching from "
                  << (config.scale.fetch.allow.empty()
                          ? std::string("no FHIR server")
                          : std::to_string(config.scale.fetch.allow.size()) + " prefix(es)")
                  << std::endl;
        return cds::runServer(config, *session.engine, keys, facts);
    } catch (const std::exception& e) {
        printError("serve", e.what());
        return kFailure;
    }
}

}  // namespace ppmg::cli
