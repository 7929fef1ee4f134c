#include "http_server.hpp"

#include <Poco/Net/SocketAddress.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

namespace ppmg::cds {

// ---- the exchange --------------------------------------------------------------------------

HttpExchange::HttpExchange(HttpRequest request, std::string& pending, Clock::time_point deadline, Fill fill,
                           std::function<void()> sendContinue)
    : request_(std::move(request)),
      pending_(pending),
      deadline_(deadline),
      fill_(std::move(fill)),
      sendContinue_(std::move(sendContinue)),
      decoder_(request_) {}

BodyStatus HttpExchange::readBody(std::string& out, uint64_t maxBytes) {
    // Refused by its Content-Length before the client is told to send it.
    if (request_.framing == HttpRequest::Framing::Length && request_.contentLength > maxBytes) {
        bodyFailed_ = true;
        return BodyStatus::TooLarge;
    }
    if (request_.expectContinue && !continueSent_ && !decoder_.done()) {
        continueSent_ = true;
        if (sendContinue_) sendContinue_();
    }
    if (request_.framing == HttpRequest::Framing::Length) out.reserve(size_t(request_.contentLength));
    for (;;) {
        switch (decoder_.consume(pending_, &out, maxBytes)) {
            case BodyDecoder::Step::Done: return BodyStatus::Ok;
            case BodyDecoder::Step::TooLarge: bodyFailed_ = true; return BodyStatus::TooLarge;
            case BodyDecoder::Step::Broken: bodyFailed_ = true; return BodyStatus::Broken;
            case BodyDecoder::Step::NeedMore: break;
        }
        const long n = fill_ ? fill_(pending_, deadline_) : 0;
        if (n <= 0) bodyFailed_ = true;
        if (n == -1) return BodyStatus::Timeout;
        if (n <= 0) return BodyStatus::Broken;
    }
}

// ---- the server ----------------------------------------------------------------------------

namespace {

constexpr long kWouldRead = -10, kWouldWrite = -11, kIoError = -12;
constexpr size_t kReadChunk = 64u << 10;
// How long a connection over a limit may take to send its head (a /healthz is still answered).
constexpr auto kOverflowGrace = std::chrono::seconds(2);
// How long a closing connection is read and dropped after the answer (so that closing with
// unread input does not reset the connection before the client has read the answer).
constexpr auto kLinger = std::chrono::seconds(2);
constexpr uint64_t kLingerBytes = 64u << 20;
// A worker keeps at most this much of a connection's receive buffer between requests.
constexpr size_t kKeepBufferBytes = 256u << 10;
// After a request body this large, free memory is handed back to the system.
constexpr uint64_t kTrimAfterBytes = 1u << 20;

std::string openSslError() {
    std::string s;
    for (unsigned long e; (e = ERR_get_error()) != 0;) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        s += (s.empty() ? "" : "; ") + std::string(buf);
    }
    return s.empty() ? "unknown error" : s;
}

struct Conn {
    enum class State { Handshake, Head, Writing, Draining, Lingering, Busy };
    int fd = -1;
    SSL* ssl = nullptr;
    std::string remote;    // address:port
    std::string client;    // address
    bool counted = false;  // within the connection limits (false: over them, answered 503)
    State state = State::Head;
    uint32_t interest = 0;  // the epoll events registered; 0 = not registered
    std::string in;         // received and not yet consumed
    size_t scanned = 0;     // bytes of `in` already searched for the end of the head
    std::string out;        // the I/O thread's own answer, being sent
    size_t outSent = 0;
    bool closeAfterWrite = false;
    bool idle = true;  // no byte of the next request yet
    int requests = 0;
    Clock::time_point deadline;         // of the current state
    Clock::time_point requestDeadline;  // of the whole request
    BodyDecoder drain;                  // Draining: the rest of a body nobody read
    uint64_t lingered = 0;
    HttpRequest request;  // the head handed to a worker
    bool keep = false;    // set by the worker: serve another request
};

long ioRead(Conn& c, char* buf, size_t n) {
    if (c.ssl) {
        ERR_clear_error();
        const int r = SSL_read(c.ssl, buf, int(std::min<size_t>(n, INT_MAX)));
        if (r > 0) return r;
        switch (SSL_get_error(c.ssl, r)) {
            case SSL_ERROR_WANT_READ: return kWouldRead;
            case SSL_ERROR_WANT_WRITE: return kWouldWrite;
            case SSL_ERROR_ZERO_RETURN: return 0;
            default: ERR_clear_error(); return kIoError;
        }
    }
    for (;;) {
        const ssize_t r = ::recv(c.fd, buf, n, 0);
        if (r >= 0) return long(r);
        if (errno == EINTR) continue;
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? kWouldRead : kIoError;
    }
}

long ioWrite(Conn& c, const char* buf, size_t n) {
    if (c.ssl) {
        ERR_clear_error();
        const int r = SSL_write(c.ssl, buf, int(std::min<size_t>(n, INT_MAX)));
        if (r > 0) return r;
        switch (SSL_get_error(c.ssl, r)) {
            case SSL_ERROR_WANT_READ: return kWouldRead;
            case SSL_ERROR_WANT_WRITE: return kWouldWrite;
            default: ERR_clear_error(); return kIoError;
        }
    }
    for (;;) {
        const ssize_t r = ::send(c.fd, buf, n, MSG_NOSIGNAL);
        if (r >= 0) return long(r);
        if (errno == EINTR) continue;
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? kWouldWrite : kIoError;
    }
}

// Waits (on a worker) until the socket is ready or the deadline passes; false on the deadline.
bool waitReady(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (ms <= 0) return false;
        pollfd p{fd, events, 0};
        const int r = ::poll(&p, 1, int(std::min<long long>(ms, 1000)));
        if (r > 0 || (r < 0 && errno != EINTR)) return true;  // an error shows in the next call
    }
}

// Receives what is there (waiting for it until the deadline) onto pending; see HttpExchange::Fill.
long readBlocking(Conn& c, std::string& pending, Clock::time_point deadline) {
    for (;;) {
        const size_t old = pending.size();
        pending.resize(old + kReadChunk);
        const long r = ioRead(c, &pending[old], kReadChunk);
        pending.resize(old + size_t(std::max(r, 0L)));
        if (r > 0) return r;
        if (r == 0) return 0;
        if (r == kIoError) return -2;
        if (!waitReady(c.fd, r == kWouldWrite ? POLLOUT : POLLIN, deadline)) return -1;
    }
}

bool writeBlocking(Conn& c, std::string_view data, Clock::time_point deadline) {
    while (!data.empty()) {
        const long r = ioWrite(c, data.data(), data.size());
        if (r > 0) {
            data.remove_prefix(size_t(r));
            continue;
        }
        if (r == kIoError || r == 0) return false;
        if (!waitReady(c.fd, r == kWouldRead ? POLLIN : POLLOUT, deadline)) return false;
    }
    return true;
}

}  // namespace

struct HttpServer::Impl {
    HttpServerOptions o;
    HttpHandlers h;
    int listenFd = -1, epollFd = -1, wakeFd = -1, reserveFd = -1;
    SSL_CTX* ssl = nullptr;
    std::string authority;
    bool isLoopback = false;
    int maxConnections = 0, overflowCap = 0;

    std::thread io;
    std::vector<std::thread> workers;

    // The I/O thread's own.
    std::unordered_map<int, std::unique_ptr<Conn>> conns;
    std::unordered_map<std::string, int> perClient;
    int counted = 0, overflow = 0;
    bool listening = true;
    bool stopBegun = false;
    Clock::time_point nextScan;

    // Shared with the workers.
    std::mutex mutex;
    std::condition_variable work;
    std::deque<Conn*> jobs;
    std::vector<Conn*> returned;
    std::atomic<bool> stopping{false};
    std::atomic<bool> ioDone{false};
    std::atomic<size_t> busy{0};  // handed to a worker and not yet back
    bool started = false, joined = false;

    ~Impl() {
        for (auto& kv : conns) {
            if (kv.second->ssl) SSL_free(kv.second->ssl);
            ::close(kv.first);
        }
        for (int fd : {listenFd, epollFd, wakeFd, reserveFd})
            if (fd >= 0) ::close(fd);
        if (ssl) SSL_CTX_free(ssl);
    }

    void wake() {
        const uint64_t one = 1;
        (void)!::write(wakeFd, &one, sizeof one);
    }

    // ---- the I/O thread ----------------------------------------------------------------

    void setInterest(Conn& c, uint32_t events) {
        if (c.interest == events) return;
        if (events == 0) {
            ::epoll_ctl(epollFd, EPOLL_CTL_DEL, c.fd, nullptr);
        } else {
            epoll_event ev{};
            ev.events = events;
            ev.data.u64 = uint64_t(c.fd);
            ::epoll_ctl(epollFd, c.interest ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd, &ev);
        }
        c.interest = events;
    }

    void closeNow(Conn& c) {
        setInterest(c, 0);
        if (c.ssl) SSL_free(c.ssl);
        ::close(c.fd);
        if (c.counted) {
            --counted;
            auto it = perClient.find(c.client);
            if (it != perClient.end() && --it->second <= 0) perClient.erase(it);
        } else {
            --overflow;
        }
        conns.erase(c.fd);  // destroys c
    }

    // Sends FIN (after TLS close_notify), then reads and drops what still comes for a moment.
    void startLinger(Conn& c, Clock::time_point now) {
        if (c.ssl) {
            ERR_clear_error();
            SSL_shutdown(c.ssl);
            ERR_clear_error();
        }
        ::shutdown(c.fd, SHUT_WR);
        c.state = Conn::State::Lingering;
        c.deadline = now + kLinger;
        c.in.clear();
        c.in.shrink_to_fit();
        c.lingered = 0;
        setInterest(c, EPOLLIN);
    }

    void lingerRead(Conn& c) {
        char buf[16384];
        for (;;) {
            const ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
            if (r > 0) {
                c.lingered += uint64_t(r);
                if (c.lingered > kLingerBytes) return closeNow(c);
                continue;
            }
            if (r < 0 && errno == EINTR) continue;
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
            return closeNow(c);
        }
    }

    // An answer of the I/O thread's own.
    void sendLocal(Conn& c, const HttpResponse& r, const HttpRequest* request, bool keep, Clock::time_point now) {
        const bool head = request && request->method == "HEAD";
        c.out = responseHead(r, request ? request->minorVersion : 1, keep, o.serverName);
        if (!head) c.out += r.body;
        c.outSent = 0;
        c.closeAfterWrite = !keep;
        c.state = Conn::State::Writing;
        c.deadline = now + std::chrono::seconds(o.requestTimeoutSeconds);
        flush(c, now);
    }

    void refuse(Conn& c, const HttpRequest* request, int status, const std::string& reason, Clock::time_point now) {
        HttpResponse r;
        r.status = status;
        r.close = true;
        if (status == 503) r.set("Retry-After", "1");
        if (h.refused) {
            try {
                h.refused(c.remote, request, r, reason);
            } catch (...) {
                r.body.clear();
                r.contentType.clear();
            }
        }
        if (r.body.empty() && r.contentType.empty()) {
            r.contentType = "text/plain; charset=utf-8";
            r.body = std::string(reasonPhrase(status)) + ": " + reason + "\n";
        }
        sendLocal(c, r, request, false, now);
    }

    void flush(Conn& c, Clock::time_point now) {
        while (c.outSent < c.out.size()) {
            const long r = ioWrite(c, c.out.data() + c.outSent, c.out.size() - c.outSent);
            if (r > 0) {
                c.outSent += size_t(r);
                continue;
            }
            if (r == kWouldWrite || r == kWouldRead) {
                setInterest(c, r == kWouldWrite ? EPOLLOUT : EPOLLIN);
                return;
            }
            return closeNow(c);
        }
        c.out.clear();
        c.out.shrink_to_fit();
        if (c.closeAfterWrite) return startLinger(c, now);
        nextRequest(c, now);
    }

    // Waits for the connection's next request (keep-alive), serving what is already buffered.
    void nextRequest(Conn& c, Clock::time_point now) {
        c.state = Conn::State::Head;
        c.idle = true;
        c.scanned = 0;
        c.deadline = now + std::chrono::seconds(o.keepAliveSeconds);
        setInterest(c, EPOLLIN);
        if (c.ssl && SSL_pending(c.ssl) > 0) return readHead(c, now);
        if (!c.in.empty()) processHead(c, now);
    }

    void accept(Clock::time_point now) {
        for (int i = 0; i < 64 && listening; ++i) {
            sockaddr_storage ss{};
            socklen_t len = sizeof ss;
            int fd = ::accept4(listenFd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED) continue;
                if ((errno == EMFILE || errno == ENFILE) && reserveFd >= 0) {
                    // Out of descriptors: take the connection on the reserve one to say so.
                    ::close(reserveFd);
                    fd = ::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC);
                    if (fd >= 0) {
                        static const char kBusy[] =
                            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n"
                            "Retry-After: 1\r\n\r\n";
                        (void)!::send(fd, kBusy, sizeof kBusy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                        ::close(fd);
                    }
                    reserveFd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
                    continue;
                }
                return;  // EAGAIN, or an error the next readiness will show again
            }
            const int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            auto c = std::make_unique<Conn>();
            c->fd = fd;
            try {
                const Poco::Net::SocketAddress peer(reinterpret_cast<const sockaddr*>(&ss), len);
                c->client = peer.host().toString();
                c->remote = peer.toString();
            } catch (...) {
                c->client = c->remote = "?";
            }
            int& fromClient = perClient[c->client];
            if (counted < maxConnections && fromClient < o.maxConnectionsPerClient) {
                ++counted;
                ++fromClient;
                c->counted = true;
                c->deadline = now + std::chrono::seconds(o.headTimeoutSeconds);
            } else {
                if (fromClient == 0) perClient.erase(c->client);
                if (overflow >= overflowCap) {
                    static const char kBusy[] =
                        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n"
                        "Retry-After: 1\r\n\r\n";
                    (void)!::send(fd, kBusy, sizeof kBusy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                    ::close(fd);
                    continue;
                }
                ++overflow;
                c->deadline =
                    now + std::min<Clock::duration>(kOverflowGrace, std::chrono::seconds(o.headTimeoutSeconds));
            }
            c->requestDeadline = now + std::chrono::seconds(o.requestTimeoutSeconds);
            c->idle = false;  // the first request's time runs from the accept
            Conn& ref = *c;
            conns.emplace(fd, std::move(c));
            if (ssl) {
                ref.ssl = SSL_new(ssl);
                if (!ref.ssl || SSL_set_fd(ref.ssl, fd) != 1) {
                    ERR_clear_error();
                    closeNow(ref);
                    continue;
                }
                SSL_set_accept_state(ref.ssl);
                ref.state = Conn::State::Handshake;
            } else {
                ref.state = Conn::State::Head;
            }
            setInterest(ref, EPOLLIN);
        }
    }

    void handshake(Conn& c, Clock::time_point now) {
        ERR_clear_error();
        const int r = SSL_accept(c.ssl);
        if (r == 1) {
            c.state = Conn::State::Head;
            setInterest(c, EPOLLIN);
            return readHead(c, now);
        }
        switch (SSL_get_error(c.ssl, r)) {
            case SSL_ERROR_WANT_READ: setInterest(c, EPOLLIN); return;
            case SSL_ERROR_WANT_WRITE: setInterest(c, EPOLLOUT); return;
            default: ERR_clear_error(); return closeNow(c);
        }
    }

    // Reads what is there into c.in; false when the connection was closed.
    bool readInto(Conn& c, size_t cap) {
        while (c.in.size() <= cap) {
            const size_t old = c.in.size();
            c.in.resize(old + 16384);
            const long r = ioRead(c, &c.in[old], 16384);
            c.in.resize(old + size_t(std::max(r, 0L)));
            if (r > 0) continue;
            if (r == kWouldRead) {
                setInterest(c, EPOLLIN);
                return true;
            }
            if (r == kWouldWrite) {
                setInterest(c, EPOLLIN | EPOLLOUT);
                return true;
            }
            closeNow(c);  // the end of the stream, or an error
            return false;
        }
        return true;
    }

    void readHead(Conn& c, Clock::time_point now) {
        if (!readInto(c, o.maxHeadBytes + 4)) return;
        processHead(c, now);
    }

    void processHead(Conn& c, Clock::time_point now) {
        if (c.idle) {
            skipLeadingEmptyLines(c.in);
            if (c.in.empty()) return;
            // The first byte of a kept-alive connection's next request: its time starts now.
            c.idle = false;
            c.deadline = now + std::chrono::seconds(o.headTimeoutSeconds);
            c.requestDeadline = now + std::chrono::seconds(o.requestTimeoutSeconds);
        } else if (c.requests == 0) {
            skipLeadingEmptyLines(c.in);
        }
        const size_t from = c.scanned > 3 ? c.scanned - 3 : 0;
        size_t end = findHeadEnd(std::string_view(c.in).substr(from));
        if (end) end += from;
        c.scanned = c.in.size();
        if (end == 0 || end > o.maxHeadBytes) {
            if (end > o.maxHeadBytes || c.in.size() > o.maxHeadBytes)
                refuse(c, nullptr, 431, "request head larger than " + std::to_string(o.maxHeadBytes) + " bytes", now);
            return;
        }
        HttpRequest request;
        HeadError err;
        const bool ok = parseRequestHead(std::string_view(c.in).substr(0, end), request, err);
        c.in.erase(0, end);
        c.scanned = 0;
        request.remote = c.remote;
        request.client = c.client;
        if (!ok) return refuse(c, nullptr, err.status, err.reason, now);
        ++c.requests;
        if (!request.hasBody() && h.answerInline) {
            HttpResponse r;
            bool answered = false;
            try {
                answered = h.answerInline(request, r);
            } catch (...) {
                answered = false;
            }
            if (answered) {
                const bool keep =
                    request.keepAlive && !r.close && c.counted && !stopping && c.requests < o.maxKeepAliveRequests;
                return sendLocal(c, r, &request, keep, now);
            }
        }
        if (!c.counted)
            return refuse(
                c, &request, 503,
                counted >= maxConnections ? "connection limit reached" : "connection limit per client reached", now);
        if (stopping) return refuse(c, &request, 503, "shutting down", now);
        {
            std::lock_guard<std::mutex> lock(mutex);
            if (jobs.size() >= size_t(o.maxQueued)) {
                // Refused below, outside the lock.
            } else {
                setInterest(c, 0);
                c.state = Conn::State::Busy;
                c.request = std::move(request);
                jobs.push_back(&c);
                ++busy;
                work.notify_one();
                return;
            }
        }
        refuse(c, &request, 503, "all workers busy and the queue full", now);
    }

    void drainRead(Conn& c, Clock::time_point now) {
        if (!readInto(c, kReadChunk)) return;
        switch (c.drain.consume(c.in, nullptr, o.maxBodyBytes)) {
            case BodyDecoder::Step::NeedMore: return;
            case BodyDecoder::Step::Done: return nextRequest(c, now);
            default: return startLinger(c, now);
        }
    }

    void onEvent(Conn& c, uint32_t events, Clock::time_point now) {
        switch (c.state) {
            case Conn::State::Handshake: return handshake(c, now);
            case Conn::State::Head: return readHead(c, now);
            case Conn::State::Writing: return flush(c, now);
            case Conn::State::Draining: return drainRead(c, now);
            case Conn::State::Lingering: return lingerRead(c);
            case Conn::State::Busy: (void)events; return;
        }
    }

    void expire(Clock::time_point now) {
        std::vector<int> due;
        for (const auto& kv : conns)
            if (kv.second->state != Conn::State::Busy && now >= kv.second->deadline) due.push_back(kv.first);
        for (int fd : due) {
            auto it = conns.find(fd);
            if (it == conns.end()) continue;
            Conn& c = *it->second;
            if (c.state == Conn::State::Head && !c.counted) {
                refuse(c, nullptr, 503, "connection limit reached", now);
            } else if (c.state == Conn::State::Head && !c.idle && !c.in.empty()) {
                refuse(c, nullptr, 408, "the request head did not arrive in time", now);
            } else if (c.state == Conn::State::Draining) {
                startLinger(c, now);
            } else {
                closeNow(c);  // idle, a handshake, an answer nobody reads, the end of a linger
            }
        }
    }

    void takeReturned(Clock::time_point now) {
        std::vector<Conn*> back;
        {
            std::lock_guard<std::mutex> lock(mutex);
            back.swap(returned);
        }
        for (Conn* c : back) {
            --busy;
            if (stopping) {
                ::shutdown(c->fd, SHUT_WR);
                closeNow(*c);
            } else if (!c->keep) {
                startLinger(*c, now);
            } else if (!c->drain.done()) {
                c->state = Conn::State::Draining;
                c->deadline = std::min(c->requestDeadline, now + std::chrono::seconds(5));
                setInterest(*c, EPOLLIN);
                drainRead(*c, now);
            } else {
                nextRequest(*c, now);
            }
        }
    }

    void beginStop(Clock::time_point now) {
        if (listening) {
            ::epoll_ctl(epollFd, EPOLL_CTL_DEL, listenFd, nullptr);
            ::close(listenFd);
            listenFd = -1;
            listening = false;
        }
        std::vector<int> idle;
        for (const auto& kv : conns)
            if (kv.second->state != Conn::State::Busy) idle.push_back(kv.first);
        for (int fd : idle) {
            auto it = conns.find(fd);
            if (it != conns.end()) closeNow(*it->second);
        }
        (void)now;
    }

    void ioLoop() {
        std::vector<epoll_event> events(256);
        nextScan = Clock::now();
        for (;;) {
            const int n = ::epoll_wait(epollFd, events.data(), int(events.size()), 50);
            const auto now = Clock::now();
            for (int i = 0; i < n; ++i) {
                const int fd = int(events[size_t(i)].data.u64);
                if (fd == wakeFd) {
                    uint64_t v;
                    (void)!::read(wakeFd, &v, sizeof v);
                } else if (fd == listenFd) {
                    accept(now);
                } else {
                    auto it = conns.find(fd);
                    if (it != conns.end() && it->second->interest != 0)
                        onEvent(*it->second, events[size_t(i)].events, now);
                }
            }
            takeReturned(now);
            if (stopping) {
                if (!stopBegun) beginStop(now);
                stopBegun = true;
                if (busy == 0) break;
            }
            if (now >= nextScan) {
                expire(now);
                nextScan = now + std::chrono::milliseconds(50);
            }
        }
        ioDone = true;
        work.notify_all();
    }

    // ---- the workers -------------------------------------------------------------------

    void workerLoop() {
        for (;;) {
            Conn* c = nullptr;
            {
                std::unique_lock<std::mutex> lock(mutex);
                work.wait(lock, [&] { return !jobs.empty() || ioDone; });
                if (jobs.empty()) return;
                c = jobs.front();
                jobs.pop_front();
            }
            serve(*c);
            {
                std::lock_guard<std::mutex> lock(mutex);
                returned.push_back(c);
            }
            wake();
        }
    }

    void serve(Conn& c) {
        const int minor = c.request.minorVersion;
        const bool isHead = c.request.method == "HEAD";
        const bool wantsKeep = c.request.keepAlive;
        const bool expectContinue = c.request.expectContinue;
        auto fill = [&c](std::string& pending, Clock::time_point deadline) {
            return readBlocking(c, pending, deadline);
        };
        auto sendContinue = [&c, this] {
            writeBlocking(c, "HTTP/1.1 100 Continue\r\n\r\n",
                          Clock::now() + std::chrono::seconds(o.requestTimeoutSeconds));
        };
        HttpExchange x(std::move(c.request), c.in, c.requestDeadline, fill, sendContinue);
        try {
            h.handle(x);
        } catch (...) {
            x.response = HttpResponse{};
            x.response.status = 500;
            x.response.contentType = "text/plain; charset=utf-8";
            x.response.body = "Internal Server Error\n";
            x.response.close = true;
        }
        bool keep =
            wantsKeep && !x.response.close && !x.bodyFailed() && !stopping && c.requests < o.maxKeepAliveRequests;
        // A client that waits for 100 Continue it never got sends no body: the connection ends.
        if (!x.bodyDone() && expectContinue && !x.continueSent()) keep = false;
        std::string head = responseHead(x.response, minor, keep, o.serverName);
        const auto writeDeadline = Clock::now() + std::chrono::seconds(o.requestTimeoutSeconds);
        bool ok = writeBlocking(c, head, writeDeadline);
        if (ok && !isHead) ok = writeBlocking(c, x.response.body, writeDeadline);
        c.keep = keep && ok;
        c.drain = x.bodyDone() ? BodyDecoder() : x.decoder();
        const uint64_t bodyBytes = x.bodyBytes();
        x.response = HttpResponse{};
        if (c.in.capacity() > kKeepBufferBytes) c.in.shrink_to_fit();
        // Large bodies leave large free blocks: hand them back to the system.
        if (bodyBytes > kTrimAfterBytes) malloc_trim(0);
    }
};

HttpServer::HttpServer(HttpServerOptions options, HttpHandlers handlers) : impl_(std::make_unique<Impl>()) {
    Impl& s = *impl_;
    s.o = std::move(options);
    s.h = std::move(handlers);
    // Room for the connections: the soft descriptor limit up to the hard one.
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
        ::getrlimit(RLIMIT_NOFILE, &rl);
    }
    const long fdRoom = long(rl.rlim_cur) - 64 - s.o.workers;
    s.maxConnections = int(std::max(16L, std::min<long>(s.o.maxConnections, fdRoom * 4 / 5)));
    s.overflowCap = int(std::max(16L, std::min<long>(s.maxConnections / 4 + 16, fdRoom / 5)));

    Poco::Net::SocketAddress address;
    try {
        address = Poco::Net::SocketAddress(s.o.listen);
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("--listen must be HOST:PORT, got \"" + s.o.listen + "\" (" + e.displayText() + ")");
    }
    if (!s.o.tlsCert.empty()) {
        s.ssl = SSL_CTX_new(TLS_server_method());
        if (!s.ssl) throw std::runtime_error("cannot create a TLS context: " + openSslError());
        SSL_CTX_set_min_proto_version(s.ssl, TLS1_2_VERSION);
        SSL_CTX_set_options(s.ssl, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                       SSL_OP_IGNORE_UNEXPECTED_EOF);
        SSL_CTX_set_mode(
            s.ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
        if (SSL_CTX_set_cipher_list(s.ssl, "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES") != 1 ||
            SSL_CTX_use_certificate_chain_file(s.ssl, s.o.tlsCert.c_str()) != 1 ||
            SSL_CTX_use_PrivateKey_file(s.ssl, s.o.tlsKey.c_str(), SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(s.ssl) != 1)
            throw std::runtime_error("cannot use the TLS certificate " + s.o.tlsCert + " and key " + s.o.tlsKey + ": " +
                                     openSslError());
    }
    s.listenFd = ::socket(address.af(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    // SO_REUSEADDR but not SO_REUSEPORT: a second server never shares the port silently.
    if (s.listenFd < 0 || ::setsockopt(s.listenFd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::bind(s.listenFd, address.addr(), address.length()) != 0 || ::listen(s.listenFd, 1024) != 0)
        throw std::runtime_error("cannot listen on " + s.o.listen + ": " + std::strerror(errno));
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    ::getsockname(s.listenFd, reinterpret_cast<sockaddr*>(&bound), &len);
    const Poco::Net::SocketAddress boundAddress(reinterpret_cast<const sockaddr*>(&bound), len);
    s.authority = boundAddress.toString();
    s.isLoopback = boundAddress.host().isLoopback();

    s.epollFd = ::epoll_create1(EPOLL_CLOEXEC);
    s.wakeFd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s.reserveFd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (s.epollFd < 0 || s.wakeFd < 0) throw std::runtime_error(std::string("epoll: ") + std::strerror(errno));
    for (int fd : {s.listenFd, s.wakeFd}) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = uint64_t(fd);
        ::epoll_ctl(s.epollFd, EPOLL_CTL_ADD, fd, &ev);
    }
}

HttpServer::~HttpServer() {
    if (!impl_->started || impl_->joined) return;
    if (!stop(Clock::now() + std::chrono::seconds(30))) {
        // Requests still running: their threads use the server, so it is left to the process's end.
        impl_->io.detach();
        for (auto& t : impl_->workers) t.detach();
        (void)impl_.release();
    }
}

void HttpServer::start() {
    Impl& s = *impl_;
    if (s.started) return;
    s.started = true;
    s.io = std::thread([&s] { s.ioLoop(); });
    for (int i = 0; i < s.o.workers; ++i) s.workers.emplace_back([&s] { s.workerLoop(); });
}

bool HttpServer::stop(Clock::time_point deadline) {
    Impl& s = *impl_;
    if (!s.started || s.joined) return true;
    s.stopping = true;
    s.wake();
    while (!s.ioDone && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!s.ioDone) return false;
    s.io.join();
    {
        std::lock_guard<std::mutex> lock(s.mutex);
        s.work.notify_all();
    }
    for (auto& t : s.workers) t.join();
    s.joined = true;
    return true;
}

const std::string& HttpServer::boundAuthority() const { return impl_->authority; }
bool HttpServer::loopback() const { return impl_->isLoopback; }
bool HttpServer::tls() const { return impl_->ssl != nullptr; }
size_t HttpServer::requestsInProgress() const { return impl_->busy; }

}  // namespace ppmg::cds
