// ppmg_scale_client: the client side of the scale-out test (tests/server/scale_out_test.sh).
//
//   ppmg_scale_client feedback-load --url BASE --key KEY.pem --kid KID --iss ISS --card UUID
//                                   [--requests 600] [--connections 8] [--max-seconds 60]
//                                   --acked-out FILE
//
// Posts feedback for one card, each post with its own token and its own outcomeTimestamp
// (2026-01-01T00:00:00.000Z plus the post's number in milliseconds), over kept-alive
// connections. Writes the outcomeTimestamp of every post answered 200 (acknowledged) to
// --acked-out, one per line, and prints {"sent":N,"acked":N,"failed":N}. Failures are expected
// (the test kills a replica under this load): the exit status is 0 unless nothing was acked.
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

std::string timestamp(size_t i) {
    // 2026-01-01T00:00:00.000Z + i ms (i below 24 h of milliseconds).
    const size_t ms = i % 1000, s = (i / 1000) % 60, m = (i / 60000) % 60, h = i / 3600000;
    char buf[64];
    std::snprintf(buf, sizeof buf, "2026-01-01T%02zu:%02zu:%02zu.%03zuZ", h % 24, m, s, ms);
    return buf;
}

int feedbackLoad(const std::map<std::string, std::string>& o) {
    const std::string base = need(o, "--url");
    const std::string path = "/cds-services/postpartum-massage-guidance/feedback";
    const std::string card = need(o, "--card");
    const size_t requests = std::stoul(o.count("--requests") ? o.at("--requests") : "600");
    const int connections = std::stoi(o.count("--connections") ? o.at("--connections") : "8");
    const int maxSeconds = std::stoi(o.count("--max-seconds") ? o.at("--max-seconds") : "60");
    TestKey key = TestKey::load(need(o, "--key"), need(o, "--kid"));
    const std::string iss = need(o, "--iss");
    Poco::URI uri(base);

    std::vector<std::string> tokens(requests);
    const int64_t now = unixNow();
    for (size_t i = 0; i < requests; ++i) {
        Claims c;
        c.iss = iss;
        c.aud = base + path;
        c.iat = now;
        c.exp = now + 600;
        tokens[i] = makeToken(key, c);
    }
    std::atomic<size_t> next{0};
    std::atomic<size_t> failed{0};
    std::mutex mutex;
    std::vector<std::string> acked;
    std::map<std::string, long> errors;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(maxSeconds);
    std::vector<std::thread> threads;
    for (int t = 0; t < connections; ++t)
        threads.emplace_back([&] {
            std::unique_ptr<Client> client;
            for (;;) {
                const size_t i = next++;
                if (i >= requests || std::chrono::steady_clock::now() > deadline) break;
                const std::string body = R"({"feedback":[{"card":")" + card +
                                         R"(","outcome":"accepted","outcomeTimestamp":")" + timestamp(i) + R"("}]})";
                std::string error;
                try {
                    if (!client) client = std::make_unique<Client>(uri.getHost(), uri.getPort());
                    Reply r = client->post(path, body, tokens[i]);
                    if (r.status == 200) {
                        std::lock_guard<std::mutex> lock(mutex);
                        acked.push_back(timestamp(i));
                        continue;
                    }
                    error = "HTTP " + std::to_string(r.status);
                } catch (const std::exception& e) {
                    error = std::string("exception: ") + e.what();
                    client.reset();
                }
                ++failed;
                std::lock_guard<std::mutex> lock(mutex);
                ++errors[error];
            }
        });
    for (auto& t : threads) t.join();
    std::string out;
    for (const std::string& a : acked) out += a + "\n";
    writeText(need(o, "--acked-out"), out);
    std::cout << "{\"sent\":" << std::min(next.load(), requests) << ",\"acked\":" << acked.size()
              << ",\"failed\":" << failed.load() << "}" << std::endl;
    for (const auto& e : errors) std::cerr << "feedback-load: " << e.second << " x " << e.first << std::endl;
    return acked.empty() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || std::string(argv[1]) != "feedback-load") {
        std::cerr << "usage: ppmg_scale_client feedback-load [options] (see the source's header)\n";
        return 2;
    }
    try {
        return feedbackLoad(options(argc, argv));
    } catch (const std::invalid_argument& e) {
        std::cerr << "ppmg_scale_client: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "ppmg_scale_client: " << e.what() << "\n";
        return 1;
    }
}
