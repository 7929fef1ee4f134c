#include "server_harness.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/StreamCopier.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace ppmg::test {

namespace {

std::string binary() { return ppmgBinary(); }

pid_t spawn(const std::vector<std::string>& args, const std::string& errFile, const std::string& outFile = "") {
    std::vector<char*> argv;
    std::vector<std::string> all = args;
    all.insert(all.begin(), binary());
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (outFile.empty())
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 1, outFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, errFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    // The test binary may block signals; the server must start with a clean mask.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    // The server gets this environment as it is (sanitizer options included: it needs no
    // suppressions).
    pid_t pid = -1;
    int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) throw std::runtime_error("cannot start " + binary());
    return pid;
}

int waitExit(pid_t pid, int timeoutSeconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeoutSeconds);
    for (;;) {
        int status = 0;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (std::chrono::steady_clock::now() > deadline) return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

struct Scratch {
    std::string path;
    Scratch() {
        char tmpl[] = "/tmp/ppmg-server-test-XXXXXX";
        if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
        path = tmpl;
    }
    ~Scratch() {
        if (!path.empty() && !std::getenv("PPMG_KEEP_SCRATCH")) std::system(("rm -rf '" + path + "'").c_str());
    }
};

}  // namespace

std::string ppmgBinary() {
    const char* dir = std::getenv("PPMG_TEST_BIN_DIR");
    return std::string(dir && *dir ? dir : PPMG_BIN_DIR) + "/ppmg";
}

std::string scratchDir() {
    static Scratch s;
    return s.path;
}

void writeText(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
    if (!f) throw std::runtime_error("cannot write " + path);
}

std::string readTextFile(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

ServerProcess::ServerProcess(std::vector<std::string> args, bool tls) : tls_(tls) {
    static int counter = 0;
    errFile_ = scratchDir() + "/server-" + std::to_string(++counter) + ".err";
    for (size_t i = 0; i + 1 < args.size(); ++i)
        if (args[i] == "--public-url") publicUrl_ = args[i + 1];
    while (!publicUrl_.empty() && publicUrl_.back() == '/') publicUrl_.pop_back();
    args.insert(args.begin(), {"serve", "--listen", "127.0.0.1:0"});
    pid_ = spawn(args, errFile_);
    const std::regex listening(R"(listening on https?://127\.0\.0\.1:([0-9]+))");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
        std::smatch m;
        std::string err = readTextFile(errFile_);
        if (std::regex_search(err, m, listening)) {
            port_ = std::stoi(m[1]);
            return;
        }
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("ppmg serve exited at start-up: " + err);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(pid_, SIGKILL);
    waitExit(pid_, 5);
    pid_ = -1;
    throw std::runtime_error("ppmg serve did not start listening: " + readTextFile(errFile_));
}

ServerProcess::~ServerProcess() {
    if (pid_ > 0) {
        kill(pid_, SIGTERM);
        if (waitExit(pid_, 10) < 0) {
            kill(pid_, SIGKILL);
            waitExit(pid_, 5);
        }
    }
}

std::string ServerProcess::base() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}
std::string ServerProcess::publicBase() const { return publicUrl_.empty() ? base() : publicUrl_; }
std::string ServerProcess::serviceUrl() const { return publicBase() + "/cds-services/postpartum-massage-guidance"; }
std::string ServerProcess::log() const { return readTextFile(errFile_); }

int ServerProcess::stop(int signal, int timeoutSeconds) {
    if (pid_ <= 0) return -1;
    kill(pid_, signal);
    int status = waitExit(pid_, timeoutSeconds);
    if (status >= 0) pid_ = -1;
    return status;
}

int runPpmg(const std::vector<std::string>& args, std::string& err, std::string* out) {
    static int counter = 0;
    const std::string errFile = scratchDir() + "/run-" + std::to_string(++counter) + ".err";
    const std::string outFile = out ? scratchDir() + "/run-" + std::to_string(counter) + ".out" : "";
    pid_t pid = spawn(args, errFile, outFile);
    int status = waitExit(pid, 60);
    if (status < 0) {  // still running (a server that should have refused to start): stop it
        kill(pid, SIGKILL);
        waitExit(pid, 10);
    }
    err = readTextFile(errFile);
    if (out) *out = readTextFile(outFile);
    return status;
}

// ---- HTTP -------------------------------------------------------------------------------

Client::Client(const std::string& host, int port, bool tls, const std::string& caFile) {
    if (tls) {
        static bool init = (Poco::Net::initializeSSL(), true);
        (void)init;
        Poco::Net::Context::Ptr ctx = new Poco::Net::Context(
            Poco::Net::Context::TLS_CLIENT_USE, "", "", caFile,
            caFile.empty() ? Poco::Net::Context::VERIFY_NONE : Poco::Net::Context::VERIFY_STRICT);
        session_ = std::make_unique<Poco::Net::HTTPSClientSession>(host, Poco::UInt16(port), ctx);
    } else {
        session_ = std::make_unique<Poco::Net::HTTPClientSession>(host, Poco::UInt16(port));
    }
    session_->setKeepAlive(true);
    session_->setTimeout(Poco::Timespan(60, 0));
}

Client::~Client() = default;

Reply Client::request(const std::string& method, const std::string& path, const std::string& body,
                      const std::map<std::string, std::string>& headers) {
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& h : headers) req.set(h.first, h.second);
    if (method == "POST" || method == "PUT" || !body.empty()) req.setContentLength64(Poco::Int64(body.size()));
    std::ostream& out = session_->sendRequest(req);
    out.write(body.data(), std::streamsize(body.size()));
    Poco::Net::HTTPResponse resp;
    std::istream& in = session_->receiveResponse(resp);
    Reply r;
    r.status = int(resp.getStatus());
    for (const auto& h : resp) {
        std::string k = h.first;
        for (char& c : k) c = char(std::tolower(static_cast<unsigned char>(c)));
        r.headers[k] = h.second;
    }
    Poco::StreamCopier::copyToString(in, r.body);
    return r;
}

RawConnection::RawConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        throw std::runtime_error("cannot connect to port " + std::to_string(port));
}

RawConnection::~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += size_t(n);
    }
    return true;
}

std::string RawConnection::receive(int waitSeconds) { return receiveUntil("", waitSeconds); }

bool RawConnection::closedByPeer(int waitSeconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(waitSeconds);
    for (;;) {
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0) return false;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, int(left)) <= 0) continue;
        char buf[65536];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) return true;
    }
}

std::string RawConnection::receiveFor(const std::string& until, int waitMs) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(waitMs);
    for (;;) {
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        if (left < 0) break;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, int(left)) <= 0) break;
        char buf[65536];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) break;
        out.append(buf, size_t(n));
        if (!until.empty() && out.find(until) != std::string::npos) break;
    }
    return out;
}

}  // namespace ppmg::test
