#include "cds_store.hpp"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

namespace ppmg::cds {

using Poco::Data::Session;
using Poco::Data::Statement;
using namespace Poco::Data::Keywords;

namespace {

struct Migration {
    int version;
    const char* description;
    std::vector<const char*> statements;
};

// Append only: a released migration is never edited; a change is a new step.
const std::vector<Migration>& migrations() {
    static const std::vector<Migration> m = {
        {1,
         "audit events, issued cards, feedback",
         {"CREATE TABLE audit_events (id TEXT PRIMARY KEY, recorded_ms BIGINT NOT NULL, patient_id TEXT NOT NULL, "
          "issuer TEXT NOT NULL, subject TEXT NOT NULL, hook TEXT NOT NULL, status INTEGER NOT NULL, resource TEXT NOT "
          "NULL)",
          "CREATE INDEX audit_events_recorded ON audit_events (recorded_ms)",
          "CREATE INDEX audit_events_patient ON audit_events (patient_id, recorded_ms)",
          "CREATE TABLE cards (uuid TEXT PRIMARY KEY, audit_id TEXT NOT NULL, patient_id TEXT NOT NULL, issued_ms "
          "BIGINT NOT NULL, override_reasons TEXT NOT NULL)",
          "CREATE TABLE feedback (id TEXT PRIMARY KEY, card_uuid TEXT NOT NULL, outcome TEXT NOT NULL, reason_system "
          "TEXT NOT NULL, reason_code TEXT NOT NULL, reason_display TEXT NOT NULL, user_comment TEXT NOT NULL, "
          "outcome_timestamp TEXT NOT NULL, accepted_suggestions TEXT NOT NULL, issuer TEXT NOT NULL, subject TEXT NOT "
          "NULL, patient_id TEXT NOT NULL, received_ms BIGINT NOT NULL)",
          "CREATE INDEX feedback_received ON feedback (received_ms)"}},
        {2,
         "view links",
         {"CREATE TABLE view_links (token_hash TEXT PRIMARY KEY, audit_id TEXT NOT NULL, created_ms BIGINT NOT NULL, "
          "expires_ms BIGINT NOT NULL, patient_id TEXT NOT NULL, as_of TEXT NOT NULL, content_sha TEXT NOT NULL, "
          "record TEXT NOT NULL)",
          "CREATE INDEX view_links_expires ON view_links (expires_ms)"}},
    };
    return m;
}

int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// A bounded pool of sessions. A session that failed is closed, never reused.
class Pool {
public:
    Pool(std::function<Session()> make, size_t max) : make_(std::move(make)), max_(max ? max : 1) {}

    Session acquire() {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!cv_.wait_for(lock, std::chrono::seconds(10), [&] { return !idle_.empty() || open_ < max_; }))
            throw StoreError("no store connection became free within 10 s");
        if (!idle_.empty()) {
            Session s = idle_.back();
            idle_.pop_back();
            return s;
        }
        ++open_;
        lock.unlock();
        try {
            return make_();
        } catch (...) {
            release(nullptr);
            throw;
        }
    }
    // s == nullptr: the session is gone (failed or never made).
    void release(const Session* s) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (s)
            idle_.push_back(*s);
        else
            --open_;
        cv_.notify_one();
    }

private:
    std::function<Session()> make_;
    size_t max_;
    size_t open_ = 0;
    std::vector<Session> idle_;
    std::mutex mutex_;
    std::condition_variable cv_;
};

class DataStore : public Store {
public:
    DataStore(bool pg, std::string connect, size_t maxConnections)
        : pg_(pg), connect_(std::move(connect)), pool_([this] { return makeSession(); }, maxConnections) {}
    ~DataStore() override {
        {
            std::lock_guard<std::mutex> lock(checkpointMutex_);
            stopping_ = true;
        }
        checkpointCv_.notify_all();
        if (checkpointer_.joinable()) checkpointer_.join();
    }

    // SQLite, for a store this process writes: the WAL is copied into the database (a
    // checkpoint, with its fsync) by a thread of its own a few times a second, instead of by
    // whichever call's commit crossed SQLite's threshold (that call waited about 14 ms: one in
    // sixty calls).
    void startCheckpointer() {
        if (pg_) return;
        checkpointsOff_ = true;
        checkpointer_ = std::thread([this] {
            std::optional<Session> s;
            std::unique_lock<std::mutex> lock(checkpointMutex_);
            while (!checkpointCv_.wait_for(lock, std::chrono::milliseconds(250), [&] { return stopping_; })) {
                lock.unlock();
                try {
                    if (!s) s.emplace("SQLite", connect_);
                    *s << "PRAGMA wal_checkpoint(PASSIVE)", now;
                } catch (...) {
                    s.reset();  // tried again on a new connection next time; a failing store fails its writes too
                }
                lock.lock();
            }
        });
    }

    std::string kind() const override { return pg_ ? "postgresql" : "sqlite"; }

    void migrate() {
        run([&](Session& s) {
            if (pg_) {
                // Replicas starting together: one migrates, the others wait for it.
                int one = 0;
                s << "SELECT 1 FROM (SELECT pg_advisory_lock(727274016)) AS l", into(one), now;
            }
            try {
                migrateLocked(s);
            } catch (...) {
                if (pg_) s << "SELECT 1 FROM (SELECT pg_advisory_unlock(727274016)) AS l", now;
                throw;
            }
            if (pg_) s << "SELECT 1 FROM (SELECT pg_advisory_unlock(727274016)) AS l", now;
        });
    }

    int schemaVersion() override {
        int v = 0;
        run([&](Session& s) { v = currentVersion(s); });
        return v;
    }

    // Calls arriving while another is being written wait, and are then written together, in one
    // transaction, by the first of them (group commit): one commit (and, with PostgreSQL, one
    // flush of its log) for all of them instead of one each, and no writers queueing for
    // SQLite's lock. Each caller returns only once its own rows are committed.
    void recordCall(const AuditRow& a, const std::vector<CardRow>& cards, const ViewRow* view) override {
        PendingCall me{&a, &cards, view, false, nullptr};
        std::unique_lock<std::mutex> lock(groupMutex_);
        pending_.push_back(&me);
        groupCv_.wait(lock, [&] { return me.done || !groupWriting_; });
        if (!me.done) {
            std::vector<PendingCall*> batch;
            batch.swap(pending_);
            groupWriting_ = true;
            lock.unlock();
            writeBatch(batch);
            lock.lock();
            for (PendingCall* p : batch) p->done = true;
            groupWriting_ = false;
            groupCv_.notify_all();
        }
        if (me.error) std::rethrow_exception(me.error);
    }

    std::optional<CardRow> findCard(const std::string& uuid) override {
        std::optional<CardRow> out;
        run([&](Session& s) {
            std::vector<std::string> audit, patient, reasons;
            std::vector<Poco::Int64> issued;
            s << sql("SELECT audit_id, patient_id, issued_ms, override_reasons FROM cards WHERE uuid = ?"), bind(uuid),
                into(audit), into(patient), into(issued), into(reasons), now;
            if (audit.empty()) return;
            out = CardRow{uuid, audit[0], patient[0], int64_t(issued[0]), reasons[0]};
        });
        return out;
    }

    size_t addFeedback(const std::vector<FeedbackRow>& rows) override {
        size_t added = 0;
        transaction([&](Session& s) {
            added = 0;
            for (const FeedbackRow& f : rows) {
                Statement st(s);
                st << sql(
                    "INSERT INTO feedback (id, card_uuid, outcome, reason_system, reason_code, reason_display, "
                    "user_comment, outcome_timestamp, accepted_suggestions, issuer, subject, patient_id, "
                    "received_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"),
                    bind(f.id), bind(f.cardUuid), bind(f.outcome), bind(f.reasonSystem), bind(f.reasonCode),
                    bind(f.reasonDisplay), bind(f.userComment), bind(f.outcomeTimestamp), bind(f.acceptedSuggestions),
                    bind(f.issuer), bind(f.subject), bind(f.patientId), bind(Poco::Int64(f.receivedMs));
                added += st.execute() > 0 ? 1 : 0;
            }
        });
        return added;
    }

    std::optional<ViewRow> findView(const std::string& tokenHash, int64_t at) override {
        std::optional<ViewRow> out;
        run([&](Session& s) {
            std::vector<std::string> audit, patient, asOf, sha, record;
            std::vector<Poco::Int64> created, expires;
            s << sql(
                "SELECT audit_id, created_ms, expires_ms, patient_id, as_of, content_sha, record FROM view_links "
                "WHERE token_hash = ? AND expires_ms > ?"),
                bind(tokenHash), bind(Poco::Int64(at)), into(audit), into(created), into(expires), into(patient),
                into(asOf), into(sha), into(record), now;
            if (audit.empty()) return;
            out = ViewRow{tokenHash, audit[0], int64_t(created[0]), int64_t(expires[0]), patient[0], asOf[0],
                          sha[0],    record[0]};
        });
        return out;
    }

    size_t purgeExpiredViews(int64_t at) override {
        size_t n = 0;
        run([&](Session& s) {
            Statement st(s);
            st << sql("DELETE FROM view_links WHERE expires_ms <= ?"), bind(Poco::Int64(at));
            n = st.execute();
        });
        return n;
    }

    std::vector<AuditRow> audits(int64_t sinceMs, const std::string& patientId) override {
        std::vector<AuditRow> out;
        run([&](Session& s) {
            std::vector<std::string> id, patient, issuer, subject, hook, json;
            std::vector<Poco::Int64> recorded;
            std::vector<int> status;
            Statement st(s);
            st << sql(std::string("SELECT id, recorded_ms, patient_id, issuer, subject, hook, status, resource FROM "
                                  "audit_events WHERE recorded_ms >= ?") +
                      (patientId.empty() ? "" : " AND patient_id = ?") + " ORDER BY recorded_ms, id"),
                bind(Poco::Int64(sinceMs)), into(id), into(recorded), into(patient), into(issuer), into(subject),
                into(hook), into(status), into(json);
            if (!patientId.empty()) st, bind(patientId);
            st.execute();
            out.clear();
            for (size_t i = 0; i < id.size(); ++i)
                out.push_back(AuditRow{id[i], int64_t(recorded[i]), patient[i], issuer[i], subject[i], hook[i],
                                       status[i], json[i]});
        });
        return out;
    }

    std::vector<FeedbackRow> feedback(int64_t sinceMs, const std::string& patientId) override {
        std::vector<FeedbackRow> out;
        run([&](Session& s) {
            std::vector<std::string> id, card, outcome, rsys, rcode, rdisp, comment, ts, sugg, iss, sub, patient;
            std::vector<Poco::Int64> received;
            Statement st(s);
            st << sql(std::string("SELECT id, card_uuid, outcome, reason_system, reason_code, reason_display, "
                                  "user_comment, outcome_timestamp, accepted_suggestions, issuer, subject, patient_id, "
                                  "received_ms FROM feedback WHERE received_ms >= ?") +
                      (patientId.empty() ? "" : " AND patient_id = ?") + " ORDER BY received_ms, id"),
                bind(Poco::Int64(sinceMs)), into(id), into(card), into(outcome), into(rsys), into(rcode), into(rdisp),
                into(comment), into(ts), into(sugg), into(iss), into(sub), into(patient), into(received);
            if (!patientId.empty()) st, bind(patientId);
            st.execute();
            out.clear();
            for (size_t i = 0; i < id.size(); ++i)
                out.push_back(FeedbackRow{id[i], card[i], outcome[i], rsys[i], rcode[i], rdisp[i], comment[i], ts[i],
                                          sugg[i], iss[i], sub[i], patient[i], int64_t(received[i])});
        });
        return out;
    }

private:
    struct PendingCall {
        const AuditRow* audit;
        const std::vector<CardRow>* cards;
        const ViewRow* view;
        bool done = false;
        std::exception_ptr error;
    };

    // One transaction for the batch; when it fails, each call in a transaction of its own, so a
    // call the store refuses fails alone. When the store cannot be reached at all, every call
    // fails at once (not each after its own wait for a connection).
    void writeBatch(const std::vector<PendingCall*>& batch) {
        try {
            transaction([&](Session& s) { insertCalls(s, {batch.begin(), batch.end()}); });
            return;
        } catch (...) {
            if (batch.size() == 1 || !reachable()) {
                for (PendingCall* p : batch) p->error = std::current_exception();
                return;
            }
        }
        for (PendingCall* p : batch) {
            try {
                transaction([&](Session& s) { insertCalls(s, {p}); });
            } catch (...) {
                p->error = std::current_exception();
            }
        }
    }

    bool reachable() {
        try {
            run([](Session& s) {
                int one = 0;
                s << "SELECT 1", into(one), now;
            });
            return true;
        } catch (const StoreError&) {
            return false;
        }
    }

    // The calls' rows, a statement per table for all of them (each statement a round trip to
    // PostgreSQL; a batch of sixteen calls is three statements, not a hundred).
    void insertCalls(Session& s, const std::vector<const PendingCall*>& calls) {
        std::vector<const AuditRow*> audits;
        std::vector<const CardRow*> cards;
        std::vector<const ViewRow*> views;
        for (const PendingCall* c : calls) {
            audits.push_back(c->audit);
            for (const CardRow& card : *c->cards) cards.push_back(&card);
            if (c->view) views.push_back(c->view);
        }
        insertRows(s, "audit_events (id, recorded_ms, patient_id, issuer, subject, hook, status, resource)", 8, audits,
                   [](Statement& st, const AuditRow& a) {
                       st, bind(a.id), bind(Poco::Int64(a.recordedMs)), bind(a.patientId), bind(a.issuer),
                           bind(a.subject), bind(a.hook), bind(a.status), bind(a.json);
                   });
        insertRows(s, "cards (uuid, audit_id, patient_id, issued_ms, override_reasons)", 5, cards,
                   [](Statement& st, const CardRow& c) {
                       st, bind(c.uuid), bind(c.auditId), bind(c.patientId), bind(Poco::Int64(c.issuedMs)),
                           bind(c.overrideReasons);
                   });
        insertRows(
            s, "view_links (token_hash, audit_id, created_ms, expires_ms, patient_id, as_of, content_sha, record)", 8,
            views, [](Statement& st, const ViewRow& v) {
                st, bind(v.tokenHash), bind(v.auditId), bind(Poco::Int64(v.createdMs)), bind(Poco::Int64(v.expiresMs)),
                    bind(v.patientId), bind(v.asOf), bind(v.contentSha), bind(v.record);
            });
    }

    // INSERT INTO table (columns) VALUES (...), (...) ON CONFLICT DO NOTHING, at most 100 rows a
    // statement (well under either database's limit on parameters).
    template <class Row, class Bind>
    void insertRows(Session& s, const char* tableAndColumns, int columns, const std::vector<const Row*>& rows,
                    Bind bindRow) {
        constexpr size_t kRowsPerStatement = 100;
        for (size_t from = 0; from < rows.size(); from += kRowsPerStatement) {
            const size_t n = std::min(kRowsPerStatement, rows.size() - from);
            std::string text = std::string("INSERT INTO ") + tableAndColumns + " VALUES ";
            std::string one = "(";
            for (int c = 0; c < columns; ++c) one += c ? ", ?" : "?";
            one += ")";
            for (size_t i = 0; i < n; ++i) text += (i ? ", " : "") + one;
            text += " ON CONFLICT DO NOTHING";
            Statement st(s);
            st << sql(text);
            for (size_t i = 0; i < n; ++i) bindRow(st, *rows[from + i]);
            st.execute();
        }
    }

    Session makeSession() {
        try {
            Session s(pg_ ? "PostgreSQL" : "SQLite", connect_);
            if (!pg_) {
                // WAL: readers never wait for the writer; NORMAL: a commit survives the process
                // being killed (not a power cut in the last moment); wait for a busy writer.
                s << "PRAGMA busy_timeout = 10000", now;
                s << "PRAGMA journal_mode = WAL", now;
                s << "PRAGMA synchronous = NORMAL", now;
                if (checkpointsOff_) s << "PRAGMA wal_autocheckpoint = 0", now;
            }
            return s;
        } catch (const Poco::Exception& e) {
            throw StoreError("cannot connect to the " + kind() + " store: " + e.displayText());
        }
    }

    // '?' placeholders as PostgreSQL's $1, $2, ... (no statement here holds a literal '?').
    std::string sql(const std::string& text) const {
        if (!pg_) return text;
        std::string out;
        int n = 0;
        for (char c : text) {
            if (c == '?')
                out += "$" + std::to_string(++n);
            else
                out.push_back(c);
        }
        return out;
    }

    // Runs fn on a pooled session; on a failure, once more on a new session (every operation is
    // idempotent: inserts skip rows already there).
    template <class Fn>
    void run(Fn fn) {
        std::string last;
        for (int attempt = 0; attempt < 2; ++attempt) {
            Session s = pool_.acquire();
            try {
                fn(s);
                pool_.release(&s);
                return;
            } catch (const StoreError&) {
                pool_.release(nullptr);
                throw;
            } catch (const Poco::Exception& e) {
                last = e.displayText();
            } catch (const std::exception& e) {
                last = e.what();
            }
            try {
                s.close();
            } catch (...) {}
            pool_.release(nullptr);
        }
        throw StoreError("the " + kind() + " store failed: " + last);
    }

    template <class Fn>
    void transaction(Fn fn) {
        std::unique_lock<std::mutex> writer;
        if (!pg_) writer = std::unique_lock<std::mutex>(writerMutex_);
        run([&](Session& s) {
            begin(s);
            try {
                fn(s);
                commit(s);
            } catch (...) {
                try {
                    rollback(s);
                } catch (...) {}
                throw;
            }
        });
    }

    void begin(Session& s) {
        if (pg_)
            s.begin();
        else
            s << "BEGIN IMMEDIATE", now;  // take the write lock now: no deadlock on upgrade
    }
    void commit(Session& s) {
        if (pg_)
            s.commit();
        else
            s << "COMMIT", now;
    }
    void rollback(Session& s) {
        if (pg_)
            s.rollback();
        else
            s << "ROLLBACK", now;
    }

    int currentVersion(Session& s) {
        std::vector<int> v;
        s << "SELECT version FROM schema_version ORDER BY version DESC", into(v), now;
        return v.empty() ? 0 : v[0];
    }

    void migrateLocked(Session& s) {
        s << "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
             "applied_ms BIGINT NOT NULL)",
            now;
        const int current = currentVersion(s);
        if (current > latestSchemaVersion())
            throw StoreError("the store's schema is version " + std::to_string(current) + ", newer than this ppmg (" +
                             std::to_string(latestSchemaVersion()) + "): upgrade ppmg");
        for (const Migration& m : migrations()) {
            if (m.version <= current) continue;
            begin(s);
            try {
                for (const char* statement : m.statements) s << statement, now;
                s << sql("INSERT INTO schema_version (version, description, applied_ms) VALUES (?, ?, ?)"),
                    bind(m.version), bind(std::string(m.description)), bind(Poco::Int64(nowMs())), now;
                commit(s);
            } catch (...) {
                try {
                    rollback(s);
                } catch (...) {}
                throw;
            }
        }
    }

    bool pg_;
    std::string connect_;
    Pool pool_;
    std::mutex writerMutex_;  // SQLite: one writer at a time in this process, no busy waits
    std::mutex groupMutex_;
    std::condition_variable groupCv_;
    std::vector<PendingCall*> pending_;
    bool groupWriting_ = false;
    std::atomic<bool> checkpointsOff_{false};
    std::thread checkpointer_;
    std::mutex checkpointMutex_;
    std::condition_variable checkpointCv_;
    bool stopping_ = false;
};

// postgresql://[user[:password]@][host][:port][/dbname][?key=value&...] as libpq's keyword
// string (Poco's connector takes only that form).
std::string libpqKeywords(const std::string& uri) {
    const size_t schemeEnd = uri.find("://");
    std::string rest = uri.substr(schemeEnd + 3);
    std::string query;
    if (size_t q = rest.find('?'); q != std::string::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
    }
    std::string path;
    if (size_t slash = rest.find('/'); slash != std::string::npos) {
        path = rest.substr(slash + 1);
        rest = rest.substr(0, slash);
    }
    std::string user, password;
    if (size_t at = rest.rfind('@'); at != std::string::npos) {
        user = rest.substr(0, at);
        rest = rest.substr(at + 1);
        if (size_t colon = user.find(':'); colon != std::string::npos) {
            password = user.substr(colon + 1);
            user = user.substr(0, colon);
        }
    }
    std::string host = rest, port;
    if (!host.empty() && host[0] == '[') {  // [IPv6]:port
        const size_t close = host.find(']');
        if (close != std::string::npos) {
            if (close + 1 < host.size() && host[close + 1] == ':') port = host.substr(close + 2);
            host = host.substr(1, close - 1);
        }
    } else if (size_t colon = host.rfind(':'); colon != std::string::npos) {
        port = host.substr(colon + 1);
        host = host.substr(0, colon);
    }
    auto decode = [](const std::string& in) {
        std::string out;
        Poco::URI::decode(in, out);
        return out;
    };
    std::string out;
    auto add = [&](const std::string& key, const std::string& value) {
        if (value.empty()) return;
        std::string quoted;
        for (char c : value) {
            if (c == '\\' || c == '\'') quoted.push_back('\\');
            quoted.push_back(c);
        }
        out += (out.empty() ? "" : " ") + key + "='" + quoted + "'";
    };
    add("host", decode(host));
    add("port", decode(port));
    add("dbname", decode(path));
    add("user", decode(user));
    add("password", decode(password));
    for (size_t pos = 0; pos < query.size();) {
        size_t amp = query.find('&', pos);
        if (amp == std::string::npos) amp = query.size();
        const std::string kv = query.substr(pos, amp - pos);
        const size_t eq = kv.find('=');
        if (eq != std::string::npos) add(decode(kv.substr(0, eq)), decode(kv.substr(eq + 1)));
        pos = amp + 1;
    }
    // Never wait long for a database that is not there.
    if (out.find("connect_timeout=") == std::string::npos) out += " connect_timeout='5'";
    return out;
}

}  // namespace

int Store::latestSchemaVersion() { return migrations().back().version; }

std::unique_ptr<Store> Store::open(const std::string& spec, size_t maxConnections, bool migrate) {
    static std::once_flag registered;
    std::call_once(registered, [] {
        Poco::Data::SQLite::Connector::registerConnector();
        Poco::Data::PostgreSQL::Connector::registerConnector();
    });
    std::unique_ptr<DataStore> store;
    if (spec.rfind("sqlite:", 0) == 0) {
        std::string path = spec.substr(7);
        if (path.empty()) throw StoreError("--store sqlite:PATH needs a path");
        if (!migrate && ::access(path.c_str(), R_OK) != 0) throw StoreError("no store at " + path);
        store = std::make_unique<DataStore>(false, path, maxConnections);
    } else if (spec.rfind("postgresql://", 0) == 0 || spec.rfind("postgres://", 0) == 0) {
        store = std::make_unique<DataStore>(true, libpqKeywords(spec), maxConnections);
    } else {
        throw StoreError("--store must be sqlite:PATH or postgresql://..., got \"" + redactStoreSpec(spec) + "\"");
    }
    if (migrate) {
        store->startCheckpointer();  // first: every session it opens then leaves checkpoints to it
        store->migrate();
    } else {
        int v = 0;
        try {
            v = store->schemaVersion();
        } catch (const StoreError& e) {
            throw StoreError(std::string("not a ppmg store, or it cannot be read: ") + e.what());
        }
        if (v != latestSchemaVersion())
            throw StoreError("the store's schema is version " + std::to_string(v) + ", this ppmg reads version " +
                             std::to_string(latestSchemaVersion()) + " (ppmg serve migrates it)");
    }
    return store;
}

std::string redactStoreSpec(const std::string& spec) {
    // postgresql://user:password@host/db -> postgresql://user:***@host/db
    const size_t scheme = spec.find("://");
    if (scheme == std::string::npos) return spec;
    const size_t at = spec.find('@', scheme + 3);
    const size_t colon = spec.find(':', scheme + 3);
    if (at == std::string::npos || colon == std::string::npos || colon > at) return spec;
    return spec.substr(0, colon + 1) + "***" + spec.substr(at);
}

}  // namespace ppmg::cds
