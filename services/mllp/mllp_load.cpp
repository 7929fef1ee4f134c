// ppmg-mllp-load HOST PORT CONNECTIONS MESSAGES FILE: the listener's load figure (docs/performance.md).
// Each of CONNECTIONS connections sends MESSAGES copies of the HL7 v2 record in FILE (MSH-10 made
// unique per copy) one after the other, each waiting for its ACK, and checks the ACK is AA naming
// the copy's control id. Prints messages/s, ACK latency p50/p99 and the count of wrong ACKs; exit
// status 1 when any ACK was missing or not AA. Test tooling, not installed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: ppmg-mllp-load HOST PORT CONNECTIONS MESSAGES FILE\n");
        return 2;
    }
    const std::string host = argv[1];
    const int port = std::atoi(argv[2]), conns = std::atoi(argv[3]), per = std::atoi(argv[4]);
    std::ifstream in(argv[5], std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string record = ss.str();
    std::replace(record.begin(), record.end(), '\n', '\r');
    // MSH-10 is the 10th field of the first segment: split the record around it.
    size_t pos = 0;
    for (int i = 0; i < 9 && pos != std::string::npos; ++i) pos = record.find('|', pos + 1);
    const size_t end = record.find('|', pos + 1);
    if (pos == std::string::npos || end == std::string::npos) {
        std::fprintf(stderr, "ppmg-mllp-load: no MSH-10 in %s\n", argv[5]);
        return 2;
    }
    const std::string head = record.substr(0, pos + 1), tail = record.substr(end);
    std::atomic<long> bad{0};
    std::vector<std::vector<double>> lat(static_cast<size_t>(conns));
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < conns; ++c)
        threads.emplace_back([&, c] {
            const int s = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(static_cast<uint16_t>(port));
            ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
            int one = 1;
            ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
                bad += per;
                return;
            }
            std::string buf;
            char rb[4096];
            for (int i = 0; i < per; ++i) {
                const std::string id = "L" + std::to_string(c) + "-" + std::to_string(i);
                const std::string msg = "\x0b" + head + id + tail + "\x1c\r";
                const auto s0 = std::chrono::steady_clock::now();
                if (::send(s, msg.data(), msg.size(), 0) != static_cast<ssize_t>(msg.size())) {
                    ++bad;
                    break;
                }
                size_t fs;
                while ((fs = buf.find('\x1c')) == std::string::npos) {
                    const ssize_t n = ::recv(s, rb, sizeof rb, 0);
                    if (n <= 0) break;
                    buf.append(rb, static_cast<size_t>(n));
                }
                if (fs == std::string::npos) {
                    bad += per - i;
                    break;
                }
                const std::string ack = buf.substr(0, fs);
                buf.erase(0, fs + 2);
                lat[static_cast<size_t>(c)].push_back(
                    std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - s0).count());
                if (ack.find("MSA|AA|" + id) == std::string::npos) ++bad;
            }
            ::close(s);
        });
    for (auto& t : threads) t.join();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<double> all;
    for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
    std::sort(all.begin(), all.end());
    auto pct = [&](double p) {
        return all.empty() ? 0.0 : all[std::min(all.size() - 1, size_t(p * double(all.size())))];
    };
    std::printf(
        "{\"messages\":%zu,\"seconds\":%.3f,\"messages_per_s\":%.0f,\"ack_p50_us\":%.0f,\"ack_p99_us\":%.0f,\"bad\":%"
        "ld}\n",
        all.size(), secs, double(all.size()) / secs, pct(0.5), pct(0.99), bad.load());
    return bad.load() == 0 && all.size() == size_t(conns) * size_t(per) ? 0 : 1;
}
