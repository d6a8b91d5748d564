// hmi report compare OLD NEW: what changed between two reports (a reproduce run's
// report.json, or single-claim reports from the test suites): per-claim status changes and
// per-point drifts of the measured value beyond the point's tolerance. Exit 1 on a
// regression (a claim that passed and now fails or is missing, or a drift beyond tolerance),
// so CI can gate on it; 2 on unreadable input.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "app/cli.hpp"

namespace hmi::app {
namespace {

nlohmann::json load_report(const std::string& path) {
  const std::string shown = theory::brief_text(path);
  auto bad = [&](const std::string& rule) { throw UsageError("report = '" + shown + "' (" + rule + ")"); };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) bad("is a directory: must be a report.json file");
  std::ifstream in(path);
  if (!in) bad("cannot be read: must be an existing JSON report");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    bad(std::string("malformed JSON: ") + e.what());
  }
  // A single-claim report (verify suites) is a report with one claim.
  if (j.is_object() && j.contains("claim") && !j.contains("claims")) j = {{"claims", {j}}};
  if (!j.is_object() || !j.contains("claims") || !j["claims"].is_array())
    bad("must hold a \"claims\" array or be a single-claim report");
  std::set<std::string> seen;
  for (const auto& c : j["claims"]) {
    if (!c.is_object()) bad("every claim must be an object");
    const auto& id = c.contains("id") ? c["id"] : c.value("claim", nlohmann::json());
    if (!id.is_string() || id.get<std::string>().empty()) bad("claim id " + brief(id) + ": must be a non-empty string");
    if (!seen.insert(id.get<std::string>()).second) bad("claim id '" + id.get<std::string>() + "' appears twice: ids must be unique");
    if (!c.contains("pass") || !c["pass"].is_boolean()) bad("claim '" + id.get<std::string>() + "': pass must be true or false");
    if (c.contains("points")) {
      if (!c["points"].is_array()) bad("claim '" + id.get<std::string>() + "': points = " + brief(c["points"]) + " (must be an array)");
      for (const auto& pt : c["points"]) {
        const bool ok = pt.is_object() && pt.value("label", nlohmann::json()).is_string() &&
                        (!pt.contains("measured") || pt["measured"].is_number() || pt["measured"].is_null()) &&
                        (!pt.contains("tolerance") || pt["tolerance"].is_number() || pt["tolerance"].is_null());
        if (!ok) bad("claim '" + id.get<std::string>() + "': point " + brief(pt) + " (must be an object with a string label and numeric measured/tolerance)");
      }
    }
  }
  return j;
}

// What a point's measured value depends on besides the code: the configuration that made it,
// without the thread count (results do not depend on it).
nlohmann::json identity(const nlohmann::json& config) {
  nlohmann::json c = config;
  if (c.is_object()) c.erase("threads");
  return c;
}

std::string claim_id(const nlohmann::json& c) { return c.contains("id") ? c["id"].get<std::string>() : c["claim"].get<std::string>(); }

double num(const nlohmann::json& v) { return v.is_number() ? v.get<double>() : NAN; }

}  // namespace

void register_report(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("report", "Work with reports");
  cmd->require_subcommand(1);
  auto* cmp = cmd->add_subcommand("compare", "Compare two reports: status changes and drifts beyond tolerance (exit 1 on a regression)");
  auto paths = std::make_shared<std::vector<std::string>>();
  auto json_out = std::make_shared<std::string>();
  cmp->add_option("reports", *paths, "OLD NEW")->expected(2)->required();
  cmp->add_option("--json", *json_out, "also write the comparison as JSON to this file");
  cmp->callback([&run, paths, json_out] {
    run = [paths, json_out] {
      if (!json_out->empty()) check_output_file("--json", *json_out);
      const auto old_r = load_report((*paths)[0]), new_r = load_report((*paths)[1]);
      // Points with the same label at different sizes (a default run against --quick) are not
      // comparable: refuse rather than report "no regression".
      if (old_r.contains("config") && new_r.contains("config") && identity(old_r["config"]) != identity(new_r["config"]))
        throw UsageError("reports = '" + theory::brief_text((*paths)[0]) + "' '" + theory::brief_text((*paths)[1]) +
                         "' (made with different configurations (preset " + brief(old_r.value("preset", nlohmann::json())) + " vs " +
                         brief(new_r.value("preset", nlohmann::json())) + "): compare runs of the same configuration)");
      std::map<std::string, nlohmann::json> olds, news;
      for (const auto& c : old_r["claims"]) olds[claim_id(c)] = c;
      for (const auto& c : new_r["claims"]) news[claim_id(c)] = c;
      int regressions = 0;
      nlohmann::json out = {{"old", (*paths)[0]}, {"new", (*paths)[1]}, {"claims", nlohmann::json::array()}};
      std::cout << std::left << std::setw(18) << "claim" << std::setw(10) << "old" << std::setw(10) << "new"
                << "verdict\n";
      std::set<std::string> ids;
      for (const auto& [id, c] : olds) ids.insert(id);
      for (const auto& [id, c] : news) ids.insert(id);
      for (const auto& id : ids) {
        const bool in_old = olds.count(id), in_new = news.count(id);
        const std::string so = in_old ? (olds[id]["pass"].get<bool>() ? "pass" : "FAIL") : "-";
        const std::string sn = in_new ? (news[id]["pass"].get<bool>() ? "pass" : "FAIL") : "missing";
        std::string verdict = "unchanged";
        bool regression = false;
        if (!in_new && in_old && olds[id]["pass"].get<bool>()) {
          verdict = "REGRESSION (claim missing)";
          regression = true;
        } else if (!in_old) {
          verdict = "new claim";
        } else if (in_new && so == "pass" && sn == "FAIL") {
          verdict = "REGRESSION (pass -> fail)";
          regression = true;
        } else if (in_new && so == "FAIL" && sn == "pass") {
          verdict = "fixed (fail -> pass)";
        }
        // Drifts: points with the same label whose measured value moved by more than the
        // point's tolerance (the larger of the two reports' tolerances).
        nlohmann::json drifts = nlohmann::json::array();
        // Single-claim reports carry their own configuration: a claim measured at other sizes
        // is listed, not compared point by point.
        const bool comparable = !(in_old && in_new && olds[id].contains("config") && news[id].contains("config") &&
                                  identity(olds[id]["config"]) != identity(news[id]["config"]));
        if (!comparable) {
          verdict = "not compared (configuration differs)";
          regression = false;
        }
        if (comparable && in_old && in_new && olds[id].contains("points") && news[id].contains("points")) {
          std::map<std::string, nlohmann::json> op;
          for (const auto& p : olds[id]["points"]) op[p.value("label", "")] = p;
          for (const auto& p : news[id]["points"]) {
            const auto it = op.find(p.value("label", ""));
            if (it == op.end()) continue;
            const double mo = num(it->second["measured"]), mn = num(p["measured"]);
            const double tol = std::max(num(it->second["tolerance"]), num(p["tolerance"]));
            const bool drift = std::isfinite(mo) != std::isfinite(mn) ||
                               (std::isfinite(mo) && std::isfinite(tol) && std::abs(mn - mo) > tol);
            if (drift)
              drifts.push_back({{"label", p.value("label", "")}, {"old", it->second["measured"]}, {"new", p["measured"]},
                                {"tolerance", number_or_null(tol)}});
          }
        }
        if (!drifts.empty()) {
          regression = true;
          const std::string drift = "DRIFT (" + std::to_string(drifts.size()) + " points beyond tolerance)";
          verdict = verdict == "unchanged" ? drift : verdict + "; " + drift;
        }
        regressions += regression;
        std::cout << std::left << std::setw(18) << id << std::setw(10) << so << std::setw(10) << sn << verdict << "\n";
        for (const auto& d : drifts)
          std::cout << "    " << d["label"].get<std::string>() << ": " << d["old"].dump() << " -> " << d["new"].dump()
                    << " (tolerance " << d["tolerance"].dump() << ")\n";
        out["claims"].push_back({{"id", id}, {"old", so}, {"new", sn}, {"verdict", verdict}, {"regression", regression},
                                 {"drifts", drifts}});
      }
      out["regressions"] = regressions;
      if (!json_out->empty()) emit_json(out, *json_out);
      std::cout << (regressions ? std::to_string(regressions) + " regression(s)" : std::string("no regression")) << std::endl;
      return regressions ? 1 : 0;
    };
  });
}

}  // namespace hmi::app
