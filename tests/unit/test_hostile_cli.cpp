// `ppmg render` and `ppmg assess` over every file in tests/hostile, as the held-out check runs
// them: exit status 2, one line on stderr naming the file, nothing on stdout, no output file,
// and all within seconds.
#include <dirent.h>
#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "support/run_process.hpp"
#include "support/test_env.hpp"

using namespace ppmg::test;

namespace {

std::vector<std::string> hostileFiles() {
    const std::string dir = std::string(PPMG_TEST_DIR) + "/hostile";
    std::vector<std::string> out;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d)) {
            std::string name = e->d_name;
            if (name != "." && name != ".." && name != "README.md") out.push_back(dir + "/" + name);
        }
        ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

size_t lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

TEST_CASE("Hostile CLI: each hostile file is refused with exit 2, one stderr line and no output", "[cli][hostile]") {
    const auto files = hostileFiles();
    REQUIRE(files.size() >= 50);
    const std::string target = "/tmp/ppmg-hostile-" + std::to_string(::getpid()) + ".xml";
    std::remove(target.c_str());
    for (const auto& file : files) {
        for (const char* cmd : {"render", "assess"}) {
            INFO(cmd << " " << file);
            const auto start = std::chrono::steady_clock::now();
            // timeout(1) bounds a hang: it would exit 124, which fails the status check.
            auto r = runProcess({"/usr/bin/timeout", "-s", "KILL", "60", ppmgBinary(), cmd, "--as-of", "2025-11-15",
                                 "-o", target, file});
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            CHECK(r.status == 2);
            CHECK(r.out.empty());
            CHECK(lines(r.err) == 1);
            CHECK_THAT(r.err, Catch::StartsWith("ppmg: " + file + ": "));
            CHECK(r.err.size() < 1000);
            CHECK(seconds < 10);
            std::ifstream never(target);
            CHECK_FALSE(never.good());
        }
    }
    // And on standard input, where a render writes to stdout: still nothing there.
    for (const auto& file : files) {
        INFO(file);
        auto r = runProcess({"/usr/bin/timeout", "-s", "KILL", "60", ppmgBinary(), "render", "-"}, readText(file));
        CHECK(r.status == 2);
        CHECK(r.out.empty());
        CHECK(lines(r.err) == 1);
    }
}

TEST_CASE("Hostile CLI: an input over the size limit, on stdin, is refused quickly", "[cli][hostile]") {
    std::string big((64u << 20) + 16, ' ');
    big[0] = '{';
    const auto start = std::chrono::steady_clock::now();
    auto r = runProcess({"/usr/bin/timeout", "-s", "KILL", "60", ppmgBinary(), "render", "-"}, big);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CHECK(r.status == 2);
    CHECK(r.out.empty());
    CHECK_THAT(r.err, Catch::Contains("over the limit"));
    CHECK(seconds < 10);
}

TEST_CASE("Hostile CLI: an endless input and a directory are refused, not read forever", "[cli][hostile]") {
    for (const std::string& file : std::vector<std::string>{"/dev/zero", "/dev/urandom", PPMG_TEST_DIR}) {
        INFO(file);
        const auto start = std::chrono::steady_clock::now();
        auto r = runProcess({"/usr/bin/timeout", "-s", "KILL", "60", ppmgBinary(), "render", file});
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        CHECK(r.status == 2);
        CHECK(r.out.empty());
        CHECK(lines(r.err) == 1);
        CHECK_THAT(r.err, Catch::StartsWith("ppmg: " + file + ": "));
        CHECK(seconds < 10);
    }
}
