// hmi theory: predictions for the spectral estimator (THEORY.md sections 1-4).
#include <iostream>

#include "app/cli.hpp"
#include "theory/bayes.hpp"
#include "theory/risk.hpp"
#include "theory/rate.hpp"
#include "theory/spectral.hpp"

namespace hmi::app {

nlohmann::json theory_json(const theory::SpectralPrediction& pred, const std::string& activation) {
  nlohmann::json mu = nlohmann::json::array(), mu_err = nlohmann::json::array();
  for (const auto& m : pred.activation.mu) {
    mu.push_back(m.value);
    mu_err.push_back(m.error);
  }
  nlohmann::json dirs = nlohmann::json::array();
  for (const auto& d : pred.directions) {
    // An unresolved threshold is null with its status and reason, never a number.
    const bool known = d.threshold_status != "unresolved";
    nlohmann::json dj = {{"k", d.k}, {"lambda", d.lambda}, {"theta", d.theta.value}, {"theta_error", d.theta.error},
                         {"alpha_threshold", known ? number_or_null(d.alpha_threshold.value) : nlohmann::json(nullptr)},
                         {"alpha_threshold_error", known ? number_or_null(d.alpha_threshold.error) : nlohmann::json(nullptr)},
                         {"threshold_status", d.threshold_status}};
    if (!d.threshold_reason.empty()) dj["threshold_reason"] = d.threshold_reason;
    dirs.push_back(dj);
  }
  nlohmann::json curve = nlohmann::json::array();
  for (const auto& pt : pred.curve) {
    nlohmann::json out = nlohmann::json::array(), q = nlohmann::json::array();
    for (const auto& o : pt.outlier) out.push_back(o ? nlohmann::json(o->value) : nlohmann::json(nullptr));
    for (const auto& v : pt.overlap) q.push_back(v.value);
    curve.push_back({{"alpha", pt.alpha}, {"bulk_edge", pt.bulk_edge.value}, {"bulk_edge_lower", pt.bulk_edge_lower.value},
                     {"outlier", out}, {"overlap", q}});
  }
  return {{"activation",
           {{"name", activation},
            {"mu", mu}, {"mu_error", mu_err}, {"mu2", pred.activation.mu2()},
            {"variance", pred.activation.variance.value}, {"mean_dsigma_sq", pred.activation.mean_dsigma_sq.value},
            {"beta_star", pred.activation.beta_star}}},
          {"mean_T", pred.mean_T},
          {"var_T", pred.var_T.value},
          {"directions", dirs},
          {"curve", curve},
          {"method", theory::to_string(pred.method)},
          {"method_reason", pred.method_reason},
          {"theory_method", pred.theory_method},
          {"numerical_error", pred.numerical_error},
          {"note", pred.note}};
}

// Theory F (theory/bayes.hpp): per direction the Bayes-optimal overlap of the oracle channel at
// every requested alpha, and the oracle error curve R^or.
void check_bayes_flag(const theory::ModelConfig& model, long long bo) {
  if (bo != 0 && bo != 1) throw UsageError("bo = " + std::to_string(bo) + " (must be 0 or 1)");
  if (bo == 1 && !(model.noise > 0))
    throw UsageError("noise = " + theory::format_number(model.noise) + " (must be > 0 with --bo 1: the oracle channel)");
}

void add_bayes(nlohmann::json& res, const theory::ModelConfig& model, const std::vector<double>& alphas, int directions) {
  const theory::BayesCurves bc = theory::bayes_curves(model, alphas, directions);
  for (std::size_t i = 0; i < bc.directions.size() && i < res["directions"].size(); ++i) {
    nlohmann::json pts = nlohmann::json::array();
    for (const auto& p : bc.directions[i].points)
      pts.push_back({{"alpha", p.alpha}, {"q", p.bayes.q.value}, {"q_error", p.bayes.q.error},
                     {"q_algorithmic", p.algorithmic.q.value}, {"q_algorithmic_error", p.algorithmic.q.error},
                     {"status", p.status}});
    res["directions"][i]["bo"] = pts;
  }
  for (std::size_t a = 0; a < bc.risk_oracle.size() && a < res["curve"].size(); ++a) {
    res["curve"][a]["risk_oracle"] = number_or_null(bc.risk_oracle[a].value);
    res["curve"][a]["risk_oracle_error"] = number_or_null(bc.risk_oracle[a].error);
  }
  if (!bc.note.empty()) res["bo_note"] = bc.note;
}

void register_theory(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("theory", "Predicted thresholds, overlaps, bulk edge and outliers (JSON on stdout)");
  auto flags = std::make_shared<ConfigFlags>(cmd);
  flags->add_model_flags();
  auto alpha = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  flags->add_string("method", "auto|leading|exact (exact = Theory B: bounded T and even activation)", "auto");
  flags->add_string("theory_method", "quadrature|montecarlo: how expectations over (T(y), z) are computed for a "
                    "non-identity T (quadrature falls back to montecarlo where it does not apply, e.g. Delta = 0)", "quadrature");
  flags->add_int("theory_samples", "Monte Carlo samples of (T(y), z) (theory_method montecarlo, and its fallbacks)", 1 << 20);
  flags->add_int("top", "directions to report (0 = all p, at most 64)", 0);
  flags->add_int("width", "student width m: > 0 adds curve[].risk (Theory E, THEORY section 7)", 0);
  flags->add_int("d", "dimension for the readout variance term of the risk (n_r = alpha d; 0 = omit the term)", 0);
  flags->add_int("readout_samples", "readout samples n_r for the risk's variance term (0 = alpha d)", 0);
  flags->add_int("bo", "1 = add directions[].bo and curve[].risk_oracle (Theory F, Bayes-optimal oracle overlap; ~0.3 s per direction and alpha); 0 = omit", 0);
  cmd->add_option("--alpha", *alpha, "sample ratios n/d, comma-separated, e.g. 1,10,100")->required();
  cmd->add_option("--out", *out, "write the JSON here (atomically) instead of stdout");
  cmd->callback([&run, flags, alpha, out] {
    run = [flags, alpha, out] {
      if (!out->empty()) check_output_file("--out", *out);  // before any work: nothing half-done, nothing left
      const theory::ModelConfig model = flags->model();
      const nlohmann::json j = flags->merged();
      const auto alphas = parse_number_list("--alpha", *alpha);
      for (double a : alphas)
        if (a <= 0) throw UsageError("--alpha = '" + *alpha + "' (every alpha must be > 0)");
      theory::TheoryOptions opt;
      const long long samples = j["theory_samples"];
      if (samples < 4096 || samples > (1ll << 26))
        throw UsageError("theory_samples = " + std::to_string(samples) + " (must be in [4096, 67108864])");
      opt.mc_samples = std::uint64_t(samples);
      const long long top = j["top"];
      if (top < 0 || top > 64) throw UsageError("top = " + std::to_string(top) + " (must be in [0, 64]; 0 = all p up to 64)");
      opt.max_directions = top == 0 ? 64 : int(top);
      const long long width = j["width"], d = j["d"], nr = j["readout_samples"];
      if (width < 0 || width > 100000) throw UsageError("width = " + std::to_string(width) + " (must be in [0, 100000]; 0 = no risk)");
      if (d < 0 || d > 50000) throw UsageError("d = " + std::to_string(d) + " (must be in [0, 50000]; 0 = no readout variance)");
      if (nr < 0) throw UsageError("readout_samples = " + std::to_string(nr) + " (must be >= 0; 0 = alpha d)");
      const int p = model.num_directions();
      // The risk needs the overlaps of every direction the student can represent.
      if (width > 0) opt.max_directions = std::max(opt.max_directions, int(std::min<long long>(p, width)));
      check_bayes_flag(model, j["bo"]);  // before any computation
      {
        const std::string tm = j["theory_method"].get<std::string>();
        if (tm != "quadrature" && tm != "montecarlo")
          throw UsageError("theory_method = '" + theory::brief_text(tm) + "' (must be quadrature or montecarlo)");
        opt.theory_method = theory::parse_theory_method(tm);
      }
      const auto method = theory::parse_method(j["method"].get<std::string>());
      const auto pred = theory::predict_spectral(model, alphas, method, opt);
      nlohmann::json res = theory_json(pred, model.activation);
      res["model"] = model;
      // Information-theoretic thresholds per direction (THEORY.md section 5; theory/rate.hpp).
      {
        const auto info = theory::information_thresholds(model, int(pred.directions.size()));
        for (std::size_t i = 0; i < info.size() && i < res["directions"].size(); ++i) {
          const auto& d = info[i];
          auto& dj = res["directions"][i];
          // A value only when resolved; otherwise null with the reason in *_status.
          auto put = [&dj](const std::string& key, const theory::ThresholdResult& r, bool defined) {
            const std::string status = theory::information_status(r, defined);
            const bool show = status == "resolved";
            dj[key] = show ? number_or_null(r.alpha_c) : nlohmann::json(nullptr);
            dj[key + "_error"] = show ? number_or_null(r.error) : nlohmann::json(nullptr);
            dj[key + "_status"] = status;
          };
          put("alpha_oracle", d.oracle, d.oracle_defined);
          put("alpha_agnostic", d.agnostic, d.agnostic_defined);
        }
        res["information_note"] = theory::information_note(model);
      }
      if (j["bo"] != 0) add_bayes(res, model, alphas, int(pred.directions.size()));
      if (width > 0) {
        const theory::RiskConfig rc{.width = int(width), .d = int(d), .readout_samples = std::uint64_t(nr)};
        const auto risk = theory::risk_from_spectral(model, pred, rc);
        for (std::size_t i = 0; i < risk.curve.size(); ++i) {
          const auto& pt = risk.curve[i];
          auto& c = res["curve"][i];
          c["risk"] = number_or_null(pt.risk.value);
          c["risk_error"] = number_or_null(pt.risk.error);
          c["risk_terms"] = {{"unlearned", pt.terms.unlearned}, {"learned", pt.terms.learned},
                             {"variance", pt.terms.variance}, {"parameters", pt.terms.parameters}};
        }
        res["risk"] = {{"width", risk.width}, {"d", d}, {"readout_samples", nr}, {"linear_term", risk.linear_term},
                       {"target_variance", risk.target_variance},
                       {"asymptotic_exponent", number_or_null(theory::asymptotic_risk_exponent(model.gamma))},
                       {"note", risk.note}};
      }
      emit_json(res, *out);
      // After the output (an error above stays the one line on stderr).
      if (method == theory::Method::automatic && pred.method == theory::Method::leading)
        std::cerr << "note: " << pred.method_reason << "\n";
      return 0;
    };
  });
}

}  // namespace hmi::app
