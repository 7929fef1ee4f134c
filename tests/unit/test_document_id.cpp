// Document ids: random version-4 UUIDs, drawn from a per-thread pool that is never shared
// between threads or with a forked child.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "write/document_id.hpp"

using ppmg::core::newDocumentId;

namespace {

bool isVersion4Uuid(const std::string& s) {
    if (s.size() != 36) return false;
    for (size_t i = 0; i < s.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        const char c = s[i];
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return s[14] == '4' && (s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b');
}

}  // namespace

TEST_CASE("document id: a lowercase version-4 UUID, new every time", "[write][id]") {
    std::set<std::string> seen;
    for (int i = 0; i < 3000; ++i) {  // several refills of the pool
        const std::string id = newDocumentId();
        REQUIRE(isVersion4Uuid(id));
        REQUIRE(seen.insert(id).second);
    }
}

TEST_CASE("document id: threads never hand out the same id", "[write][id]") {
    std::vector<std::vector<std::string>> ids(4);
    std::vector<std::thread> threads;
    for (auto& list : ids)
        threads.emplace_back([&list] {
            for (int i = 0; i < 1000; ++i) list.push_back(newDocumentId());
        });
    for (auto& t : threads) t.join();
    std::set<std::string> all;
    for (const auto& list : ids) all.insert(list.begin(), list.end());
    CHECK(all.size() == 4000);
}

TEST_CASE("document id: a forked child does not repeat its parent's ids", "[write][id]") {
    newDocumentId();  // the pool is filled and partly used
    int pipeFds[2];
    REQUIRE(::pipe(pipeFds) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        const std::string id = newDocumentId();
        ssize_t written = ::write(pipeFds[1], id.data(), id.size());
        ::_exit(written == static_cast<ssize_t>(id.size()) ? 0 : 1);
    }
    ::close(pipeFds[1]);
    const std::string parentId = newDocumentId();
    char buf[64] = {};
    const ssize_t n = ::read(pipeFds[0], buf, sizeof buf);
    ::close(pipeFds[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(n == 36);
    CHECK(isVersion4Uuid(std::string(buf, 36)));
    CHECK(std::string(buf, 36) != parentId);
}
