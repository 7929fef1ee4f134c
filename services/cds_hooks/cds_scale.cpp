#include "cds_scale.hpp"

#include <simdjson.h>

#include <chrono>
#include <ctime>
#include <stdexcept>

#include "cds_audit.hpp"
#include "cds_json_parser.hpp"
#include "cds_random.hpp"
#include "cds_view.hpp"
#include "json_writer.hpp"

namespace ppmg::cds {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;
using tools::JsonWriter;

namespace {

int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

std::string todayUtc() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    return buf;
}

ScaleServices::ScaleServices(const ScaleOptions& options, const ContentFacts& facts, std::string observer)
    : options_(options), facts_(facts), observer_(std::move(observer)) {
    content_ = loadServiceContent(options_.contentDir);
    if (!facts_.contentSha256.empty() && content_.sha256 != facts_.contentSha256)
        throw std::runtime_error("the content file " + content_.file + " (sha256 " + content_.sha256.substr(0, 12) +
                                 ") is not the content the engine loaded (sha256 " +
                                 facts_.contentSha256.substr(0, 12) + "); give --content");
    for (const OverrideReason& r : content_.overrideReasons) reasonCodes_ += (reasonCodes_.empty() ? "" : " ") + r.code;
    replay_ = makeReplayGuard(options_.replayCache);
    fetcher_ = std::make_unique<FhirFetcher>(options_.fetch, content_.fetch);
    store_ = Store::open(options_.store.empty() ? "sqlite:ppmg-serve.db" : options_.store, options_.storeConnections);
}

ScaleServices::Prepared ScaleServices::prepare(std::string_view body, const std::string& asOf) const {
    Prepared p;
    PrefetchNeeds needs = prefetchNeeds(body);
    p.patientId = needs.patientId.substr(0, 64);
    // Nothing to fetch, or no server to fetch it from: the prefetch is read as it came (a missing
    // Patient gives 412 there).
    if (!needs.json || needs.missing.empty() || needs.fhirServer.empty()) {
        p.body = std::string(body);
        return p;
    }
    FetchResult r = fetcher_->fetch(needs, asOf);
    p.fetchRequests = r.requests;
    if (r.status != 0) {
        p.status = r.status;
        p.problem = r.problem;
        return p;
    }
    p.dataSource = needs.missing.size() == prefetchKeys().size() ? "fhir" : "prefetch+fhir";
    p.body = withPrefetch(body, r.values);
    p.fetched = true;
    return p;
}

std::string ScaleServices::auditJson(const CallFacts& call, int status, const std::string& why,
                                     const std::string& assessment, const std::vector<std::string>& cards,
                                     std::string& id, int64_t& ms) const {
    AuditFacts f;
    f.id = id = randomUuid();
    f.recordedMs = ms = nowMs();
    f.hook = call.hook;
    f.hookInstance = call.hookInstance;
    f.issuer = call.issuer;
    f.subject = call.subject;
    f.clientAddress = call.clientAddress;
    f.patientId = call.patientId;
    f.status = status;
    f.statusText = why;
    f.dataSource = call.dataSource;
    f.contentVersion = facts_.contentVersion;
    f.contentSha256 = facts_.contentSha256;
    f.pluginVersion = facts_.pluginVersion;
    if (!assessment.empty()) f.outcomes = assessmentOutcomes(assessment, f.escalate);
    f.cardUuids = cards;
    f.serviceId = observer_;
    return auditEventJson(f);
}

std::string ScaleServices::cardsWithLinks(const std::string& cardsJson, const std::string& viewUrl,
                                          std::vector<std::string>& uuids) const {
    ParserLease parser(cardsJson.size());
    element doc;
    object root;
    array cards;
    if (parser->parse(cardsJson).get(doc) != simdjson::SUCCESS || doc.get_object().get(root) != simdjson::SUCCESS ||
        root["cards"].get_array().get(cards) != simdjson::SUCCESS)
        throw std::runtime_error("the cards are not JSON");
    JsonWriter j;
    j.open('{').key("cards").open('[');
    for (element c : cards) {
        object card;
        if (c.get_object().get(card) != simdjson::SUCCESS) continue;
        j.open('{');
        array links;
        bool hasLinks = false;
        for (auto field : card) {
            if (field.key == "links") {
                hasLinks = field.value.get_array().get(links) == simdjson::SUCCESS;
                continue;
            }
            if (field.key == "overrideReasons") continue;
            if (field.key == "uuid") {
                std::string_view u;
                if (field.value.get_string().get(u) == simdjson::SUCCESS) uuids.emplace_back(u);
            }
            j.key(field.key).raw(simdjson::minify(field.value));
        }
        if (!content_.overrideReasons.empty()) {
            j.key("overrideReasons").open('[');
            for (const OverrideReason& r : content_.overrideReasons) {
                j.open('{');
                j.field("system", content_.localSystem);
                j.field("code", r.code);
                j.field("display", r.display);
                j.close('}');
            }
            j.close(']');
        }
        j.key("links").open('[');
        if (hasLinks)
            for (element l : links) j.raw(simdjson::minify(l));
        j.open('{');
        j.field("label",
                "This decision in full (page, valid " + std::to_string(options_.viewTtlSeconds / 60) + " minutes)");
        j.field("url", viewUrl);
        j.field("type", "absolute");
        j.close('}');
        // The mother's handout for the same decision, in each language the content has (issue 17).
        for (const HandoutLanguage& h : content_.handouts) {
            j.open('{');
            j.field("label", h.label);
            j.field("url", viewUrl + "?audience=patient&lang=" + h.code);
            j.field("type", "absolute");
            j.close('}');
        }
        j.close(']');
        j.close('}');
    }
    j.close(']');
    for (auto field : root)
        if (field.key != "cards") j.key(field.key).raw(simdjson::minify(field.value));
    j.close('}');
    return j.out;
}

std::string ScaleServices::issue(const std::string& cardsJson, const std::string& assessmentJson,
                                 const std::string& record, const CallFacts& call, const std::string& publicBase) {
    const std::string token = newViewToken();
    std::vector<std::string> uuids;
    const std::string answer = cardsWithLinks(cardsJson, publicBase + "/view/" + token, uuids);

    std::string auditId;
    int64_t ms = 0;
    AuditRow a;
    a.json = auditJson(call, 200, "", assessmentJson, uuids, auditId, ms);
    a.id = auditId;
    a.recordedMs = ms;
    a.patientId = call.patientId;
    a.issuer = call.issuer;
    a.subject = call.subject;
    a.hook = call.hook;
    a.status = 200;
    std::vector<CardRow> rows;
    for (const std::string& u : uuids) rows.push_back(CardRow{u, auditId, call.patientId, ms, reasonCodes_});
    ViewRow v;
    v.tokenHash = viewTokenHash(token);
    v.auditId = auditId;
    v.createdMs = ms;
    v.expiresMs = ms + int64_t(options_.viewTtlSeconds) * 1000;
    v.patientId = call.patientId;
    v.asOf = call.asOf;
    v.contentSha = facts_.contentSha256;
    v.record = packRecord(record);
    store_->recordCall(a, rows, &v);
    // Now and then, the links that have expired go.
    if ((ms & 0xFF) == 0) {
        try {
            store_->purgeExpiredViews(ms);
        } catch (const StoreError&) {}
    }
    return answer;
}

void ScaleServices::auditRefusal(const CallFacts& call, int status, const std::string& why) {
    AuditRow a;
    std::string id;
    int64_t ms = 0;
    a.json = auditJson(call, status, why, "", {}, id, ms);
    a.id = id;
    a.recordedMs = ms;
    a.patientId = call.patientId;
    a.issuer = call.issuer;
    a.subject = call.subject;
    a.hook = call.hook;
    a.status = status;
    store_->recordCall(a, {}, nullptr);
}

std::pair<int, std::string> ScaleServices::feedback(std::string_view body, const std::string& issuer,
                                                    const std::string& subject) {
    FeedbackParse parsed = parseFeedback(body);
    if (!parsed.ok()) return {400, parsed.problem};
    std::vector<FeedbackRow> rows;
    const int64_t received = nowMs();
    for (size_t i = 0; i < parsed.items.size(); ++i) {
        const FeedbackItem& item = parsed.items[i];
        const std::string at = "feedback[" + std::to_string(i) + "]";
        std::optional<CardRow> card = store_->findCard(item.card);
        if (!card) return {400, at + ".card " + item.card + " is not a card this service issued."};
        if (item.hasReason) {
            bool offered = item.reasonSystem == content_.localSystem;
            if (offered) {
                offered = false;
                const std::string& codes = card->overrideReasons;
                for (size_t pos = 0; pos < codes.size();) {
                    size_t end = codes.find(' ', pos);
                    if (end == std::string::npos) end = codes.size();
                    if (codes.compare(pos, end - pos, item.reasonCode) == 0) offered = true;
                    pos = end + 1;
                }
            }
            if (!offered)
                return {400, at + ".overrideReason.reason is not one of the card's overrideReasons (" +
                                 content_.localSystem + ": " + card->overrideReasons + ")."};
        }
        FeedbackRow f;
        f.id = feedbackId(item);
        f.cardUuid = item.card;
        f.outcome = item.outcome;
        f.reasonSystem = item.reasonSystem;
        f.reasonCode = item.reasonCode;
        f.reasonDisplay = item.reasonDisplay;
        f.userComment = item.userComment;
        f.outcomeTimestamp = item.outcomeTimestamp;
        f.acceptedSuggestions = item.acceptedSuggestions;
        f.issuer = issuer;
        f.subject = subject;
        f.patientId = card->patientId;
        f.receivedMs = received;
        rows.push_back(std::move(f));
    }
    store_->addFeedback(rows);
    return {200, ""};
}

std::optional<ViewRow> ScaleServices::view(std::string_view token) {
    if (!looksLikeViewToken(token)) return std::nullopt;
    return store_->findView(viewTokenHash(token), nowMs());
}

}  // namespace ppmg::cds
