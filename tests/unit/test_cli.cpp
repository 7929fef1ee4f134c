// The `ppmg` command line, run as a user would: outputs, exit statuses and messages.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "support/run_process.hpp"
#include "support/test_env.hpp"

using namespace ppmg::test;

namespace {

const std::string kSample = std::string(PPMG_SAMPLES_DIR) + "/sample-patient.json";

std::string tempPath(const std::string& name) { return "/tmp/ppmg-test-" + std::to_string(::getpid()) + "-" + name; }

void writeText(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

size_t lines(const std::string& s) {
    size_t n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

}  // namespace

TEST_CASE("CLI: assess prints one JSON object with the sample patient's outcomes", "[cli]") {
    auto r = runProcess({ppmgBinary(), "assess", "--as-of", "2025-11-15", kSample});
    REQUIRE(r.status == 0);
    CHECK(r.err.empty());
    CHECK_THAT(r.out, Catch::StartsWith("{\"applicable\":true,\"asOf\":\"2025-11-15\",\"postpartumDay\":44,"
                                        "\"deliveryMode\":\"caesarean\""));
    for (const char* type : {"abdominal", "low-back", "breast", "shoulder-neck"})
        CHECK_THAT(r.out, Catch::Contains(std::string("\"") + type + "\":{\"outcome\":\"modify\""));
    for (const auto& t : content().massageTypes)
        CHECK_THAT(r.out, Catch::Contains("\"display\":\"" + t.display + "\""));
    CHECK_THAT(r.out,
               Catch::Contains("\"content\":{\"version\":\"" + content().version + "\",\"sha256\":\"" +
                               content().sha256 + "\",\"signOff\":\"" + (content().draft ? "draft" : "signed") + "\""));
}

TEST_CASE("CLI: the text format says the outcomes, the reasons and the gaps in plain words", "[cli]") {
    auto r = runProcess({ppmgBinary(), "assess", "--as-of", "2025-11-15", "--format", "text", kSample});
    REQUIRE(r.status == 0);
    CHECK_THAT(r.out, Catch::Contains("postpartum day 44"));
    CHECK_THAT(r.out, Catch::Contains("Abdominal"));
    CHECK_THAT(r.out, Catch::Contains("PPM-PREC-01"));
    CHECK_THAT(r.out, Catch::Contains("Missing data"));
}

TEST_CASE("CLI: render writes a CDA document to stdout or atomically to -o", "[cli]") {
    auto r = runProcess({ppmgBinary(), "render", "--as-of", "2025-11-15", kSample});
    REQUIRE(r.status == 0);
    CHECK_THAT(r.out, Catch::StartsWith("<?xml"));
    CHECK_THAT(r.out, Catch::Contains("<ClinicalDocument"));
    const std::string out = tempPath("doc.xml");
    auto w = runProcess({ppmgBinary(), "render", "--as-of", "2025-11-15", "-o", out, kSample});
    REQUIRE(w.status == 0);
    CHECK(w.out.empty());
    CHECK_THAT(readText(out), Catch::Contains("massage-outcome"));
    std::remove(out.c_str());
}

TEST_CASE("CLI: bad input exits 2 with one line naming the file, and no document", "[cli][errors]") {
    const std::string truncated = tempPath("truncated.json");
    writeText(truncated, R"({"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Pat)");
    const std::string notFhir = tempPath("notfhir.json");
    writeText(notFhir, R"({"name":"not a FHIR resource"})");
    const std::string noPatient = tempPath("obs.json");
    writeText(noPatient, R"({"resourceType":"Observation","id":"o1","status":"final"})");
    const std::string target = tempPath("never.xml");
    for (const auto& file : {truncated, notFhir, noPatient, std::string("/nonexistent/record.json")}) {
        INFO(file);
        for (const char* cmd : {"assess", "render"}) {
            auto r = runProcess({ppmgBinary(), cmd, "--as-of", "2025-11-15", "-o", target, file});
            CHECK(r.status == 2);
            CHECK(r.out.empty());
            CHECK(lines(r.err) == 1);
            CHECK_THAT(r.err, Catch::StartsWith("ppmg: " + file + ": "));
            std::ifstream never(target);
            CHECK_FALSE(never.good());
        }
    }
    for (const auto& f : {truncated, notFhir, noPatient}) std::remove(f.c_str());
}

TEST_CASE("CLI: usage errors exit 2 with a plain message", "[cli][errors]") {
    CHECK(runProcess({ppmgBinary(), "assess"}).status == 2);
    CHECK(runProcess({ppmgBinary(), "frobnicate"}).status == 2);
    auto r = runProcess({ppmgBinary(), "assess", "--as-of", "15/11/2025", kSample});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains("YYYY-MM-DD"));
    CHECK(runProcess({ppmgBinary(), "render", "--bogus", kSample}).status == 2);
}

TEST_CASE("CLI: --plugin overrides where the plugin is found, and a wrong one is reported", "[cli]") {
    auto r = runProcess({ppmgBinary(), "assess", "--plugin", "/nonexistent/libppmg_plugin.so", kSample});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("plugin not found"));
    auto ok = runProcess({ppmgBinary(), "assess", "--as-of", "2025-11-15", "--plugin",
                          std::string(PPMG_BIN_DIR) + "/libppmg_plugin.so", kSample});
    CHECK(ok.status == 0);
}

TEST_CASE("CLI: reads the record from stdin with '-'", "[cli]") {
    auto r = runProcess({ppmgBinary(), "assess", "--as-of", "2025-11-15", "-"}, readText(kSample));
    CHECK(r.status == 0);
    CHECK_THAT(r.out, Catch::Contains("\"postpartumDay\":44"));
}

TEST_CASE("CLI: validate accepts our document and rejects one that breaks the schema", "[cli][shared]") {
    PPMG_REQUIRE_SHARED();
    const std::string xsd = sharedDir() + "/schemas/cda/schema/extensions/SDTC/infrastructure/cda/CDA_SDTC.xsd";
    const std::string doc = tempPath("valid.xml");
    REQUIRE(runProcess({ppmgBinary(), "render", "--as-of", "2025-11-15", "-o", doc, kSample}).status == 0);
    auto ok = runProcess({ppmgBinary(), "validate", "--schema", xsd, doc});
    CHECK(ok.status == 0);
    std::string broken = readText(doc);
    broken.replace(broken.find("<title>"), 7, "<bogus/><title>");
    writeText(doc, broken);
    auto bad = runProcess({ppmgBinary(), "validate", "--schema", xsd, doc});
    CHECK(bad.status == 1);
    CHECK_THAT(bad.err, Catch::Contains("bogus"));
    std::remove(doc.c_str());
}

// ---- Every subcommand answers --help (issue 11, item 6) ----------------------------------------

TEST_CASE("CLI: every subcommand answers --help with its usage on stdout and exit 0", "[cli][help]") {
    for (const std::string cmd : {"assess", "render", "validate", "serve", "bench", "version"}) {
        for (const std::vector<std::string>& argv :
             {std::vector<std::string>{ppmgBinary(), cmd, "--help"}, {ppmgBinary(), "help", cmd}}) {
            INFO(argv[1] << " " << argv[2]);
            auto r = runProcess(argv);
            CHECK(r.status == 0);
            CHECK_THAT(r.out, Catch::StartsWith("usage: ppmg " + cmd));
            CHECK(r.err.empty());
        }
    }
    for (const std::string cmd : {"assess", "render", "validate", "version"}) {  // -h too, and after a FILE
        CHECK(runProcess({ppmgBinary(), cmd, "-h"}).status == 0);
    }
    auto after = runProcess({ppmgBinary(), "render", "--as-of", "2025-11-15", kSample, "--help"});
    CHECK(after.status == 0);
    CHECK_THAT(after.out, Catch::StartsWith("usage: ppmg render"));
    auto top = runProcess({ppmgBinary(), "--help"});
    CHECK(top.status == 0);
    CHECK_THAT(top.out, Catch::Contains("ppmg COMMAND --help"));
}

// ---- Arguments: only an absent --as-of means today (issue 13, item 3) -----------------------------

TEST_CASE("CLI: an empty --as-of is refused as bad input, not taken as today", "[cli][errors]") {
    for (const char* cmd : {"assess", "render"}) {
        for (const std::vector<std::string>& argv :
             {std::vector<std::string>{ppmgBinary(), cmd, "--as-of", "", kSample},
              {ppmgBinary(), cmd, "--as-of=", kSample}}) {
            auto r = runProcess(argv);
            CHECK(r.status == 2);
            CHECK(r.out.empty());
            CHECK_THAT(r.err, Catch::Contains("--as-of must be YYYY-MM-DD"));
        }
    }
    CHECK(runProcess({ppmgBinary(), "assess", kSample}).status == 0);  // absent: today
}

// ---- The plugin names no option; the command line adds its own hint (issue 11, item 2) ----------

TEST_CASE("CLI: an ambiguous record gets the plugin's message and the command line's hint", "[cli][errors]") {
    const std::string two = tempPath("two-patients.json");
    writeText(two, R"({"resourceType":"Bundle","type":"collection","entry":[
      {"resource":{"resourceType":"Patient","id":"a"}},{"resource":{"resourceType":"Patient","id":"b"}}]})");
    auto r = runProcess({ppmgBinary(), "assess", "--as-of", "2025-11-15", two});
    CHECK(r.status == 2);
    CHECK(lines(r.err) == 1);
    CHECK_THAT(r.err,
               Catch::Contains("name the patient to assess: a") && Catch::EndsWith("; choose one with --patient ID\n"));
    std::remove(two.c_str());
}

// ---- Text output cannot drive the terminal (issue 13, item 5) --------------------------------------

namespace {
// True when s holds a byte a terminal would obey: a C0 control other than '\n', DEL, or a C1
// control (U+0080..U+009F, "\xC2\x80".."\xC2\x9F" in UTF-8), or a lone byte 0x80..0x9F.
std::string firstControl(const std::string& s) {
    for (size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if ((c < 0x20 && c != '\n') || c == 0x7F) return "byte " + std::to_string(c) + " at " + std::to_string(i);
        if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9F &&
            static_cast<unsigned char>(s[i + 1]) >= 0x80)
            return "C1 control at " + std::to_string(i);
    }
    return "";
}
}  // namespace

TEST_CASE("CLI: --format text neutralises C0 and C1 control characters from the record", "[cli][hostile]") {
    // ESC (a colour and a window title), BEL, backspaces, a tab, a newline and CSI (U+009B) in the
    // patient's id and in an observation's text, which the text form quotes.
    const std::string nasty = R"(\u001b[31mRED\u001b]0;owned\u0007\b\b\t\nFAKE LINE\u009b2J)";
    const std::string record = tempPath("controls.json");
    writeText(record, R"({"resourceType":"Bundle","type":"collection","entry":[
      {"resource":{"resourceType":"Patient","id":"p1)" +
                          nasty + R"(","gender":"female","birthDate":"1990-01-01"}},
      {"resource":{"resourceType":"Procedure","id":"del","status":"completed","subject":{"reference":"Patient/p1)" +
                          nasty + R"("},
        "code":{"coding":[{"system":"http://snomed.info/sct","code":"11466000","display":"Caesarean)" +
                          nasty + R"("}]},"performedDateTime":"2025-10-02"}}]})");
    auto r = runProcess({ppmgBinary(), "assess", "--as-of", "2025-11-15", "--format", "text", record});
    REQUIRE(r.status == 0);
    CHECK_THAT(r.out, Catch::Contains("Postpartum massage guidance for patient p1"));
    CHECK(firstControl(r.out) == "");
    CHECK(firstControl(r.err) == "");
    // The record's newline did not start a line of its own.
    CHECK_THAT(r.out, !Catch::Contains("\nFAKE LINE"));
    std::remove(record.c_str());
}

// ---- -o OUT is written safely (issue 13, item 4) -------------------------------------------------

namespace {

std::vector<std::string> entriesOf(const std::string& path) {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(path.c_str())) {
        while (dirent* e = ::readdir(d))
            if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.push_back(e->d_name);
        ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/ppmg-out-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::string cmd = "chmod -R u+rwx '" + path + "'; rm -rf '" + path + "'";
        if (std::system(cmd.c_str()) != 0) WARN("could not remove " << path);
    }
    std::vector<std::string> entries() const { return entriesOf(path); }
};

mode_t lstatMode(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 ? st.st_mode : 0;
}

}  // namespace

TEST_CASE("CLI: -o replaces a regular file whole, keeps its mode, and leaves no temporary file", "[cli][output]") {
    TempDir dir;
    const std::string out = dir.path + "/guidance.xml";
    writeText(out, "old contents");
    REQUIRE(::chmod(out.c_str(), 0640) == 0);
    auto r = runProcess({ppmgBinary(), "render", "--as-of", "2025-11-15", "-o", out, kSample});
    REQUIRE(r.status == 0);
    CHECK_THAT(readText(out), Catch::StartsWith("<?xml") && Catch::EndsWith("</ClinicalDocument>\n"));
    CHECK((lstatMode(out) & 07777) == 0640);
    CHECK(dir.entries() == std::vector<std::string>{"guidance.xml"});
    // A failure (bad input) leaves the old file as it was, and nothing beside it.
    auto bad = runProcess({ppmgBinary(), "render", "-o", out, "/nonexistent/record.json"});
    CHECK(bad.status == 2);
    CHECK_THAT(readText(out), Catch::Contains("</ClinicalDocument>"));
    // A folder it cannot write: refused, nothing left behind.
    const std::string locked = dir.path + "/locked";
    REQUIRE(::mkdir(locked.c_str(), 0500) == 0);
    if (::geteuid() != 0) {  // root writes anywhere
        auto ro = runProcess({ppmgBinary(), "render", "--as-of", "2025-11-15", "-o", locked + "/x.xml", kSample});
        CHECK(ro.status == 1);
        CHECK(lines(ro.err) == 1);
        CHECK(entriesOf(locked).empty());
    }
}

TEST_CASE("CLI: -o refuses to replace a symbolic link, a pipe or a directory", "[cli][output]") {
    TempDir dir;
    const std::string victim = dir.path + "/victim.txt";
    writeText(victim, "precious");
    const std::string link = dir.path + "/link.xml";
    REQUIRE(::symlink(victim.c_str(), link.c_str()) == 0);
    const std::string fifo = dir.path + "/fifo.xml";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    const std::string folder = dir.path + "/folder.xml";
    REQUIRE(::mkdir(folder.c_str(), 0700) == 0);
    for (const auto& target : {link, fifo, folder}) {
        INFO(target);
        const mode_t before = lstatMode(target);
        auto r = runProcess({"/usr/bin/timeout", "-s", "KILL", "30", ppmgBinary(), "render", "--as-of", "2025-11-15",
                             "-o", target, kSample});
        CHECK(r.status == 1);
        CHECK(lines(r.err) == 1);
        CHECK_THAT(r.err, Catch::Contains("refusing to replace"));
        CHECK(lstatMode(target) == before);  // still the link, the pipe, the folder
    }
    CHECK(readText(victim) == "precious");
    CHECK(dir.entries() == std::vector<std::string>{"fifo.xml", "folder.xml", "link.xml", "victim.txt"});
}

TEST_CASE("CLI: -o never writes through a link planted where a predictable temporary file would go", "[cli][output]") {
    // The attack: knowing the writer's pid, plant OUT.tmp.<pid> -> victim before it runs. The child
    // plants it for its own pid and then becomes ppmg (exec keeps the pid).
    TempDir dir;
    const std::string victim = dir.path + "/victim.txt";
    writeText(victim, "precious");
    const std::string out = dir.path + "/guidance.xml";
    const std::string ppmg = ppmgBinary();
    std::vector<std::string> args = {ppmg, "render", "--as-of", "2025-11-15", "-o", out, kSample};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string prefix = out + ".tmp.";
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        char planted[4096];
        std::snprintf(planted, sizeof planted, "%s%ld", prefix.c_str(), static_cast<long>(::getpid()));
        if (::symlink(victim.c_str(), planted) != 0) ::_exit(90);
        const int devnull = ::open("/dev/null", O_WRONLY);
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
        ::execv(ppmg.c_str(), argv.data());
        ::_exit(91);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(readText(victim) == "precious");
    CHECK(S_ISREG(lstatMode(out)));
    CHECK_THAT(readText(out), Catch::Contains("<ClinicalDocument"));
}

// ---- validate: HL7's schema does not ship, and none is built in (issue 11, item 5) ---------------

TEST_CASE("CLI: validate with no schema says in one line how to name one, and exits 1", "[cli]") {
    ::unsetenv("PPMG_CDA_SCHEMA");
    const std::string doc = tempPath("noschema.xml");
    REQUIRE(runProcess({ppmgBinary(), "render", "--as-of", "2025-11-15", "-o", doc, kSample}).status == 0);
    auto r = runProcess({ppmgBinary(), "validate", doc});
    CHECK(r.status == 1);
    CHECK(r.out.empty());
    CHECK(lines(r.err) == 1);
    CHECK_THAT(r.err, Catch::Contains("--schema") && Catch::Contains("PPMG_CDA_SCHEMA"));
    std::remove(doc.c_str());
}

TEST_CASE("CLI: validate takes HL7's schema from PPMG_CDA_SCHEMA", "[cli][shared]") {
    PPMG_REQUIRE_SHARED();
    const std::string xsd = sharedDir() + "/schemas/cda/schema/extensions/SDTC/infrastructure/cda/CDA_SDTC.xsd";
    const std::string doc = tempPath("envschema.xml");
    REQUIRE(runProcess({ppmgBinary(), "render", "--as-of", "2025-11-15", "-o", doc, kSample}).status == 0);
    ::setenv("PPMG_CDA_SCHEMA", xsd.c_str(), 1);
    auto r = runProcess({ppmgBinary(), "validate", doc});
    ::unsetenv("PPMG_CDA_SCHEMA");
    CHECK(r.status == 0);
    CHECK_THAT(r.out, Catch::Contains("valid against " + xsd));
    std::remove(doc.c_str());
}
