// ppmg_cds_client: a small CDS Hooks client for tests, demos and the load test.
//
//   ppmg_cds_client keygen --alg ES384|RS384 --kid KID --key-out KEY.pem --jwks-out JWKS.json
//   ppmg_cds_client token --key KEY.pem --kid KID --iss ISS --aud URL [--exp-in S]
//   ppmg_cds_client load --url BASE [--aud-base PUBLIC-URL] --key KEY.pem --kid KID --iss ISS --body FILE
//                        [--path /cds-services/postpartum-massage-guidance]
//                        [--requests 20000] [--connections 16] [--max-seconds 300] [--json OUT]
//
// load pre-signs one token per request (a jti is accepted once), then sends them over kept-alive
// connections, one thread each, and reports requests per second and the latency percentiles.
// Exit status: 0 all answers 2xx, 1 any other answer, error or time-out, 2 bad usage.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <Poco/URI.h>

#include "server_harness.hpp"
#include "test_keys.hpp"

using namespace ppmg::test;

namespace {

std::map<std::string, std::string> options(int argc, char** argv) {
    std::map<std::string, std::string> o;
    for (int i = 2; i < argc; ++i) {
        std::string k = argv[i];
        if (k.rfind("--", 0) != 0 || i + 1 >= argc) throw std::invalid_argument("bad argument " + k);
        o[k] = argv[++i];
    }
    return o;
}

std::string need(const std::map<std::string, std::string>& o, const std::string& k) {
    auto it = o.find(k);
    if (it == o.end()) throw std::invalid_argument(k + " is required");
    return it->second;
}

std::string get(const std::map<std::string, std::string>& o, const std::string& k, const std::string& d) {
    auto it = o.find(k);
    return it == o.end() ? d : it->second;
}

int keygen(const std::map<std::string, std::string>& o) {
    TestKey k = TestKey::generate(get(o, "--alg", "ES384"), need(o, "--kid"));
    writeText(need(o, "--key-out"), k.privatePem());
    writeText(need(o, "--jwks-out"), k.jwks() + "\n");
    return 0;
}

int token(const std::map<std::string, std::string>& o) {
    TestKey k = TestKey::load(need(o, "--key"), need(o, "--kid"));
    Claims c;
    c.iss = need(o, "--iss");
    c.aud = need(o, "--aud");
    c.iat = unixNow();
    c.exp = c.iat + std::stoll(get(o, "--exp-in", "300"));
    std::cout << makeToken(k, c) << std::endl;
    return 0;
}

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    size_t i = size_t(p / 100.0 * double(sorted.size() - 1) + 0.5);
    return sorted[std::min(i, sorted.size() - 1)];
}

int load(const std::map<std::string, std::string>& o) {
    const std::string base = need(o, "--url");
    // The URL the server is known by (its --public-url), which each token's aud names.
    const std::string audBase = get(o, "--aud-base", base);
    const std::string path = get(o, "--path", "/cds-services/postpartum-massage-guidance");
    const int requests = std::stoi(get(o, "--requests", "20000"));
    const int connections = std::stoi(get(o, "--connections", "16"));
    const int maxSeconds = std::stoi(get(o, "--max-seconds", "300"));
    const std::string body = readTextFile(need(o, "--body"));
    if (body.empty()) throw std::invalid_argument("--body is empty or unreadable");
    Poco::URI uri(base);
    TestKey key = TestKey::load(need(o, "--key"), need(o, "--kid"));
    const std::string iss = need(o, "--iss");

    // One token per request, signed before the clock starts (on every core).
    std::vector<std::string> tokens(static_cast<size_t>(requests));
    {
        const auto t0 = std::chrono::steady_clock::now();
        const int64_t now = unixNow();
        unsigned workers = std::max(1u, std::thread::hardware_concurrency());
        std::vector<std::thread> ts;
        for (unsigned w = 0; w < workers; ++w)
            ts.emplace_back([&, w] {
                for (size_t i = w; i < tokens.size(); i += workers) {
                    Claims c;
                    c.iss = iss;
                    c.aud = audBase + path;
                    c.iat = now;
                    c.exp = now + 900;
                    tokens[i] = makeToken(key, c);
                }
            });
        for (auto& t : ts) t.join();
        std::cerr << "load: signed " << requests << " tokens in "
                  << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s" << std::endl;
    }

    std::atomic<size_t> next{0};
    std::atomic<long> failures{0};
    std::atomic<bool> timedOut{false};
    std::mutex mutex;
    std::vector<double> latencies;
    latencies.reserve(size_t(requests));
    std::map<std::string, long> errors;
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + std::chrono::seconds(maxSeconds);
    std::vector<std::thread> threads;
    for (int c = 0; c < connections; ++c)
        threads.emplace_back([&] {
            std::vector<double> mine;
            std::map<std::string, long> myErrors;
            std::unique_ptr<Client> client;
            for (;;) {
                const size_t i = next++;
                if (i >= tokens.size()) break;
                if (std::chrono::steady_clock::now() > deadline) {
                    timedOut = true;
                    break;
                }
                try {
                    if (!client)
                        client = std::make_unique<Client>(uri.getHost(), uri.getPort(), uri.getScheme() == "https");
                    const auto t0 = std::chrono::steady_clock::now();
                    Reply r = client->post(path, body, tokens[i]);
                    const auto t1 = std::chrono::steady_clock::now();
                    mine.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
                    if (r.status < 200 || r.status > 299) {
                        ++failures;
                        ++myErrors["HTTP " + std::to_string(r.status)];
                    }
                } catch (const std::exception& e) {
                    ++failures;
                    ++myErrors[std::string("exception: ") + e.what()];
                    client.reset();
                }
            }
            std::lock_guard<std::mutex> lock(mutex);
            latencies.insert(latencies.end(), mine.begin(), mine.end());
            for (const auto& e : myErrors) errors[e.first] += e.second;
        });
    for (auto& t : threads) t.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::sort(latencies.begin(), latencies.end());
    const double rps = double(latencies.size()) / seconds;
    char line[512];
    std::snprintf(line, sizeof line,
                  "{\"requests\":%zu,\"connections\":%d,\"failures\":%ld,\"seconds\":%.3f,\"rps\":%.1f,"
                  "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"timed_out\":%s}",
                  latencies.size(), connections, failures.load(), seconds, rps, percentile(latencies, 50),
                  percentile(latencies, 90), percentile(latencies, 99), latencies.empty() ? 0.0 : latencies.back(),
                  timedOut ? "true" : "false");
    std::cout << line << std::endl;
    if (o.count("--json")) writeText(o.at("--json"), std::string(line) + "\n");
    for (const auto& e : errors) std::cerr << "load: " << e.second << " x " << e.first << std::endl;
    if (timedOut) std::cerr << "load: stopped after --max-seconds " << maxSeconds << std::endl;
    return failures == 0 && !timedOut && latencies.size() == size_t(requests) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: ppmg_cds_client keygen|token|load [options] (see the source's header)\n";
        return 2;
    }
    const std::string cmd = argv[1];
    try {
        auto o = options(argc, argv);
        if (cmd == "keygen") return keygen(o);
        if (cmd == "token") return token(o);
        if (cmd == "load") return load(o);
        std::cerr << "ppmg_cds_client: unknown command " << cmd << "\n";
        return 2;
    } catch (const std::invalid_argument& e) {
        std::cerr << "ppmg_cds_client: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "ppmg_cds_client: " << e.what() << "\n";
        return 1;
    }
}
