// hmi simulate: one run of the spectral estimator on freshly generated data.
#include <algorithm>
#include <cmath>

#include "app/cli.hpp"
#include "estimators/spectral.hpp"
#include "theory/spectral.hpp"

namespace hmi::app {

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
      emit_json(res, *out);
      return r.eig.status == "non_finite" ? 1 : 0;
    };
  });
}

// Placeholders replaced below by their own files once written.
}  // namespace hmi::app
