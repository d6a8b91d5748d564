// hmi simulate: one run of the spectral estimator on freshly generated data, optionally
// followed by a learner of width m (spectral first layer or gradient descent) and a ridge
// readout, with the excess test risk on fresh samples (THEORY.md sections 6-7).
#include <algorithm>
#include <cmath>
#include <optional>

#include <xtensor/xview.hpp>

#include "app/cli.hpp"
#include "estimators/gd.hpp"
#include "estimators/readout.hpp"
#include "estimators/spectral.hpp"
#include "theory/spectral.hpp"

namespace hmi::app {
namespace {

// The learner stage: first layer (top-m eigenvectors of M, or GD on the same training data),
// readout, test risk. Runs only when --width, --learner gd or --readout ridge is given.
nlohmann::json learner_stage(const nlohmann::json& j, const est::Teacher& teacher, const est::SpectralConfig& cfg,
                             const est::SpectralResult& spec, int width) {
  const std::string learner = j["learner"], readout = j["readout"], ridge = j["ridge"];
  nlohmann::json out = nlohmann::json::object();
  xt::xtensor<double, 2> U;
  const est::Student* own = nullptr;  // the GD network's own readout (readout none)
  est::GdResult gd;
  nlohmann::json lj = {{"kind", learner}, {"width", width}};
  if (int(spec.eig.vectors.shape(1)) < width) {  // the eigensolver failed (status non_finite)
    lj["status"] = "no_eigenvectors";
    out["learner"] = lj;
    return out;
  }
  if (learner == "spectral") {
    U = xt::view(spec.eig.vectors, xt::all(), xt::range(0, width));
  } else {
    est::GdConfig g;
    g.width = width;
    g.lr = j["lr"];
    g.steps = int(j["steps"].get<long long>());
    g.init_scale = j["init_scale"];
    g.subspace = learner == "gd-subspace";
    g.batch = int(j["batch"].get<long long>());
    g.threads = cfg.threads;
    g.block = cfg.block;
    try {
      g.validate();
    } catch (const std::invalid_argument& e) {
      throw UsageError(e.what());
    }
    gd = est::run_gd(teacher, spec.n, g);
    U = gd.student.U;
    own = &gd.student;
    lj.update({{"lr", g.lr}, {"steps", g.steps}, {"init_scale", g.init_scale}, {"batch", g.batch},
               {"status", gd.status}, {"steps_done", gd.steps_done}, {"readout_a", gd.student.a},
               {"sines_vs_spectral", est::principal_sines(U, xt::xtensor<double, 2>(xt::view(
                                                                 spec.eig.vectors, xt::all(), xt::range(0, width))))}});
    out["trajectory"] = est::trajectory_json(gd.trajectory);
  }
  lj["overlap"] = est::direction_overlaps(teacher, U, teacher.p);
  out["learner"] = lj;

  const long long test_samples = j["test_samples"];
  std::optional<est::Student> fitted;
  if (readout == "ridge" || readout == "ridge-same") {
    est::ReadoutConfig rc;
    rc.gcv = ridge == "gcv";
    if (!rc.gcv) {
      std::size_t used = 0;
      try {
        rc.ridge = std::stod(ridge, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != ridge.size() || ridge.empty() || !std::isfinite(rc.ridge) || rc.ridge < 0)
        throw UsageError("ridge = '" + ridge + "' (must be a number >= 0 or gcv)");
    }
    const long long nr = j["readout_samples"];
    rc.same_samples = readout == "ridge-same";
    if (nr < 0 || (rc.same_samples && std::uint64_t(nr) > spec.n))
      throw UsageError("readout_samples = " + std::to_string(nr) + " (must be >= 0; 0 = n; at most n = " +
                       std::to_string(spec.n) + " with ridge-same)");
    rc.samples = nr == 0 ? spec.n : std::uint64_t(nr);
    rc.threads = cfg.threads;
    rc.block = cfg.block;
    const est::ReadoutResult r = est::fit_ridge(teacher, U, rc);
    out["readout"] = {{"kind", readout}, {"penalty", r.penalty}, {"gcv", rc.gcv}, {"gcv_score", number_or_null(r.gcv)},
                      {"samples", r.samples}, {"parameters", r.parameters}, {"train_mse", number_or_null(r.train_mse)},
                      {"condition", number_or_null(r.condition)}, {"status", r.status},
                      {"a", r.student.a}, {"intercept", number_or_null(r.student.c)}};
    fitted = r.student;
  } else if (readout != "none") {
    throw UsageError("readout = '" + readout + "' (must be none, ridge or ridge-same)");
  }
  const est::Student* student = fitted ? &*fitted : own;
  if (student) {
    const est::RiskEstimate risk = est::test_risk(teacher, *student, std::uint64_t(test_samples), cfg.threads, cfg.block);
    out["risk"] = {{"value", number_or_null(risk.value)}, {"standard_error", number_or_null(risk.standard_error)},
                   {"test_samples", risk.samples}, {"status", risk.status},
                   {"readout", fitted ? readout : std::string("network")}};
  }
  return out;
}

}  // namespace

void register_simulate(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("simulate", "Simulate the spectral estimator at one (d, alpha, seed) (JSON on stdout)");
  auto flags = std::make_shared<ConfigFlags>(cmd);
  flags->add_model_flags();
  flags->add_int("d", "input dimension", 500);
  flags->add_double("alpha", "sample ratio n/d (> 0)", 10.0);
  flags->add_int("top", "eigenpairs to compute, by |eigenvalue| (0 = max(2p, p+8), at most d)", 0);
  flags->add_int("threads", "threads for data generation and BLAS", 1);
  flags->add_int("block", "rows per accumulation block (memory ~ 2 block d doubles)", 2048);
  flags->add_int("theory_samples", "Monte Carlo samples for the predicted bulk edge (outlier count)", 1 << 18);
  flags->add_int("width", "student width m (0 = p when a learner stage runs); > 0 runs the learner stage", 0);
  flags->add_string("learner", "first layer: spectral (top-m eigenvectors of M) | gd (plain GD) | gd-subspace (re-orthonormalised GD, the small-lr limit)", "spectral");
  flags->add_double("lr", "GD learning rate (> 0)", 0.05);
  flags->add_int("steps", "GD steps", 2000);
  flags->add_double("init_scale", "GD initial norm of each u_j (> 0)", 1e-3);
  flags->add_int("batch", "GD minibatch size (0 = full batch)", 0);
  flags->add_string("readout", "none | ridge (fresh samples) | ridge-same (the training samples)", "none");
  flags->add_string("ridge", "ridge penalty (a number >= 0) or gcv (generalised cross-validation)", "1e-6");
  flags->add_int("readout_samples", "readout samples n_r (0 = n)", 0);
  flags->add_int("test_samples", "fresh test samples for the risk", 20000);
  auto out = std::make_shared<std::string>();
  cmd->add_option("--out", *out, "write the JSON here (atomically) instead of stdout");
  cmd->callback([&run, flags, out] {
    run = [flags, out] {
      const theory::ModelConfig model = flags->model();
      const nlohmann::json j = flags->merged();
      auto int_field = [&](const char* key, long long lo, long long hi) {
        const long long v = j[key];
        if (v < lo || v > hi)
          throw UsageError(std::string(key) + " = " + std::to_string(v) + " (must be in [" + std::to_string(lo) + ", " +
                           std::to_string(hi) + "])");
        return int(v);
      };
      est::SpectralConfig cfg;
      cfg.d = int_field("d", 1, 50000);
      cfg.alpha = j["alpha"];
      cfg.top = int_field("top", 0, cfg.d);
      cfg.threads = int_field("threads", 1, 256);
      cfg.block = int_field("block", 1, 1 << 20);
      const int samples = int_field("theory_samples", 4096, 1 << 26);
      int width = int_field("width", 0, 10000);
      const std::string learner = j["learner"], readout = j["readout"];
      if (learner != "spectral" && learner != "gd" && learner != "gd-subspace")
        throw UsageError("learner = '" + learner + "' (must be spectral, gd or gd-subspace)");
      if (readout != "none" && readout != "ridge" && readout != "ridge-same")
        throw UsageError("readout = '" + readout + "' (must be none, ridge or ridge-same)");
      int_field("test_samples", 1000, 1000000000);
      const bool stage = width > 0 || learner != "spectral" || readout != "none";
      if (stage && width == 0) width = model.num_directions();
      if (width > cfg.d) throw UsageError("width = " + std::to_string(width) + " (must be <= d = " + std::to_string(cfg.d) + ")");
      if (stage) cfg.top = std::max(cfg.top_for(model.num_directions()), width);
      try {
        cfg.validate(model.num_directions());
      } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
      }
      const est::Teacher teacher = est::make_teacher(model, cfg.d);
      const est::SpectralResult r = est::run_spectral(teacher, cfg);

      // Outliers: eigenvalues beyond the predicted bulk edges by more than the finite-size
      // margin. Edge fluctuations are Tracy-Widom, O(d^(-2/3)) relative; 3 d^(-2/3) keeps
      // the bulk's top eigenvalue inside with high probability.
      theory::TheoryOptions opt;
      opt.mc_samples = std::uint64_t(samples);
      opt.max_directions = 1;
      const auto pred = theory::predict_spectral(model, {cfg.alpha}, theory::Method::automatic, opt);
      const double margin = 3.0 * std::pow(double(cfg.d), -2.0 / 3.0);
      const double up = pred.curve[0].bulk_edge.value, lo = pred.curve[0].bulk_edge_lower.value;
      int outliers = 0;
      for (double v : r.eig.values)
        if (v > up + margin * std::abs(up) || v < lo - margin * std::abs(lo)) ++outliers;

      nlohmann::json res = {
          {"d", cfg.d}, {"n", r.n}, {"alpha", cfg.alpha}, {"seed", model.seed}, {"model", model},
          {"eigenvalues", r.eig.values}, {"overlap", r.metrics.overlap},
          {"subspace_overlap", r.metrics.subspace_overlap}, {"principal_cosines", r.metrics.principal_cosines},
          {"outliers", outliers},
          {"predicted_bulk_edge", {up, lo}}, {"outlier_margin", margin}, {"theory_method", theory::to_string(pred.method)},
          {"mean_T", r.mean_T},
          {"eigensolver", {{"status", r.eig.status}, {"residual", number_or_null(r.eig.residual)}, {"iterations", r.eig.iterations}}},
          {"threads", cfg.threads}, {"block", cfg.block},
          {"timing_s", {{"labels", r.timing.labels_s}, {"accumulate", r.timing.accumulate_s}, {"eigen", r.timing.eigen_s},
                        {"total", r.timing.total_s}}}};
      if (stage) res.update(learner_stage(j, teacher, cfg, r, width));
      emit_json(res, *out);
      return r.eig.status == "non_finite" ? 1 : 0;
    };
  });
}

}  // namespace hmi::app
