// Runs the real `ppmg serve` on a loopback port for the tests, and talks HTTP(S) to it with
// Poco's client.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace Poco::Net {
class HTTPClientSession;
}

namespace ppmg::test {

// A scratch folder removed at exit.
std::string scratchDir();
void writeText(const std::string& path, const std::string& text);
std::string readTextFile(const std::string& path);

class ServerProcess {
public:
    // Starts build/bin/ppmg serve --listen 127.0.0.1:0 <args> and waits until it listens.
    // Throws with the server's stderr when it does not start.
    explicit ServerProcess(std::vector<std::string> args, bool tls = false);
    ~ServerProcess();
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    int port() const { return port_; }
    pid_t pid() const { return pid_; }
    std::string base() const;        // http://127.0.0.1:PORT
    std::string publicBase() const;  // its --public-url (without a trailing slash), else base()
    std::string serviceUrl() const;  // publicBase()/cds-services/postpartum-massage-guidance
    std::string log() const;         // everything on its stderr so far
    // Sends the signal and waits up to timeoutSeconds; returns the exit status (or -1).
    int stop(int signal, int timeoutSeconds = 30);
    bool running() const { return pid_ > 0; }

private:
    pid_t pid_ = -1;
    int port_ = 0;
    bool tls_ = false;
    std::string publicUrl_;
    std::string errFile_;
};

// The ppmg binary the tests start: $PPMG_TEST_BIN_DIR/ppmg when set (to run the tests against
// another build), else the one of this build.
std::string ppmgBinary();

// Runs ppmg with args to completion; returns the exit status; stderr into err (and stdout into
// *out when out is given).
int runPpmg(const std::vector<std::string>& args, std::string& err, std::string* out = nullptr);

struct Reply {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    std::string header(const std::string& lowerName) const {
        auto it = headers.find(lowerName);
        return it == headers.end() ? "" : it->second;
    }
};

class Client {
public:
    Client(const std::string& host, int port, bool tls = false, const std::string& caFile = "");
    ~Client();
    Reply request(const std::string& method, const std::string& path, const std::string& body = "",
                  const std::map<std::string, std::string>& headers = {});
    Reply get(const std::string& path, const std::map<std::string, std::string>& headers = {}) {
        return request("GET", path, "", headers);
    }
    Reply post(const std::string& path, const std::string& body, const std::string& token) {
        std::map<std::string, std::string> h{{"Content-Type", "application/json"}};
        if (!token.empty()) h["Authorization"] = "Bearer " + token;
        return request("POST", path, body, h);
    }

private:
    std::unique_ptr<Poco::Net::HTTPClientSession> session_;
};

// A plain TCP connection to send hand-made (partial, slow) requests.
class RawConnection {
public:
    explicit RawConnection(int port);
    ~RawConnection();
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;
    // False when the peer has closed or reset the connection.
    bool send(const std::string& bytes);
    // Everything received until the peer closes or waitSeconds pass.
    std::string receive(int waitSeconds);
    // Everything received until the peer closes, the text `until` has arrived, or waitSeconds pass.
    std::string receiveUntil(const std::string& until, int waitSeconds) {
        return receiveFor(until, waitSeconds * 1000);
    }
    // The same, for up to waitMs milliseconds (0: only what has already arrived).
    std::string receiveFor(const std::string& until, int waitMs);
    // True when the peer has closed the connection (reads end of stream or a reset) within waitSeconds.
    bool closedByPeer(int waitSeconds);

private:
    int fd_ = -1;
};

}  // namespace ppmg::test
