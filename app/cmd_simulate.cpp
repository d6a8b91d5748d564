// hmi simulate: one run of the spectral estimator on freshly generated data, optionally
// followed by a learner of width m (spectral first layer or gradient descent) and a ridge
// readout, with the excess test risk on fresh samples (THEORY.md sections 6-7).
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <iostream>
#include <optional>

#include <xtensor/xview.hpp>

#include "app/cli.hpp"
#include "numerics/resources.hpp"
#include "estimators/gd.hpp"
#include "estimators/krylov.hpp"
#include "estimators/readout.hpp"
#include "estimators/amp.hpp"
#include "estimators/spectral.hpp"
#include "theory/bayes.hpp"
#include "theory/spectral.hpp"

namespace hmi::app {
namespace {

// Everything the learner stage reads from the flags, validated before any computation (a bad
// --ridge must not cost a spectral run first).
struct StagePlan {
  std::string learner, readout;
  int width = 0;
  est::GdConfig gd;
  est::ReadoutConfig rc;
  std::uint64_t test_samples = 0;
};

// Throws UsageError "field = value (rule)". `n` is the training set size (ridge-same reuses it).
StagePlan plan_stage(const nlohmann::json& j, const est::SpectralConfig& cfg, std::uint64_t n, int width,
                     const std::function<int(const char*, long long, long long)>& int_field) {
  StagePlan plan;
  plan.learner = j["learner"];
  plan.readout = j["readout"];
  plan.width = width;
  plan.gd.width = std::max(width, 1);
  plan.gd.lr = j["lr"];
  plan.gd.steps = int_field("steps", 1, 100'000'000);
  plan.gd.init_scale = j["init_scale"];
  plan.gd.subspace = plan.learner == "gd-subspace";
  plan.gd.batch = int_field("batch", 0, std::numeric_limits<int>::max());
  plan.gd.threads = cfg.threads;
  plan.gd.block = cfg.block;
  try {
    plan.gd.validate();
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  const std::string ridge = j["ridge"];
  plan.rc.gcv = ridge == "gcv";
  if (!plan.rc.gcv) {
    std::size_t used = 0;
    try {
      plan.rc.ridge = std::stod(ridge, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != ridge.size() || ridge.empty() || !std::isfinite(plan.rc.ridge) || plan.rc.ridge < 0)
      throw UsageError("ridge = '" + theory::brief_text(ridge) + "' (must be a number >= 0 or gcv)");
  }
  const long long nr = j["readout_samples"];
  plan.rc.same_samples = plan.readout == "ridge-same";
  if (nr < 0 || (plan.rc.same_samples && std::uint64_t(nr) > n))
    throw UsageError("readout_samples = " + std::to_string(nr) + " (must be >= 0; 0 = n; at most n = " + std::to_string(n) +
                     " with ridge-same)");
  plan.rc.samples = nr == 0 ? n : std::uint64_t(nr);
  plan.rc.threads = cfg.threads;
  plan.rc.block = cfg.block;
  plan.test_samples = std::uint64_t(int_field("test_samples", 1000, 1000000000));
  return plan;
}

// The learner stage: first layer (top-m eigenvectors of M, or GD on the same training data),
// readout, test risk. Runs only when --width, --learner gd or --readout ridge is given.
// `non_finite` collects the parts whose outcome is not finite.
nlohmann::json learner_stage(const StagePlan& plan, const est::Teacher& teacher, const est::SpectralResult& spec,
                             std::vector<std::string>& non_finite) {
  const int width = plan.width;
  nlohmann::json out = nlohmann::json::object();
  xt::xtensor<double, 2> U;
  const est::Student* own = nullptr;  // the GD network's own readout (readout none)
  est::GdResult gd;
  nlohmann::json lj = {{"kind", plan.learner}, {"width", width}};
  if (int(spec.eig.vectors.shape(1)) < width) {  // the eigensolver failed (status non_finite)
    lj["status"] = "no_eigenvectors";
    out["learner"] = lj;
    return out;
  }
  if (plan.learner == "spectral") {
    U = xt::view(spec.eig.vectors, xt::all(), xt::range(0, width));
  } else {
    const est::GdConfig& g = plan.gd;
    gd = est::run_gd(teacher, spec.n, g);
    U = gd.student.U;
    own = &gd.student;
    if (gd.status == "non_finite") non_finite.push_back("learner");
    lj.update({{"lr", g.lr}, {"steps", g.steps}, {"init_scale", g.init_scale}, {"batch", g.batch},
               {"status", gd.status}, {"steps_done", gd.steps_done}, {"readout_a", gd.student.a},
               {"sines_vs_spectral", est::principal_sines(U, xt::xtensor<double, 2>(xt::view(
                                                                 spec.eig.vectors, xt::all(), xt::range(0, width))))}});
    out["trajectory"] = est::trajectory_json(gd.trajectory);
    if (gd.status == "non_finite") {  // the weights diverged: nothing downstream would mean anything
      lj["overlap"] = est::direction_overlaps(teacher, U, teacher.p);  // NaN -> null
      out["learner"] = lj;
      return out;
    }
  }
  lj["overlap"] = est::direction_overlaps(teacher, U, teacher.p);
  out["learner"] = lj;

  std::optional<est::Student> fitted;
  if (plan.readout == "ridge" || plan.readout == "ridge-same") {
    const est::ReadoutResult r = est::fit_ridge(teacher, U, plan.rc);
    if (r.status == "non_finite") non_finite.push_back("readout");
    out["readout"] = {{"kind", plan.readout}, {"penalty", r.penalty}, {"gcv", plan.rc.gcv}, {"gcv_score", number_or_null(r.gcv)},
                      {"samples", r.samples}, {"parameters", r.parameters}, {"train_mse", number_or_null(r.train_mse)},
                      {"condition", number_or_null(r.condition)}, {"status", r.status},
                      {"a", r.student.a}, {"intercept", number_or_null(r.student.c)}};
    fitted = r.student;
  }
  const est::Student* student = fitted ? &*fitted : own;
  if (student) {
    const est::RiskEstimate risk = est::test_risk(teacher, *student, plan.test_samples, plan.gd.threads, plan.gd.block);
    if (risk.status == "non_finite") non_finite.push_back("risk");
    out["risk"] = {{"value", number_or_null(risk.value)}, {"standard_error", number_or_null(risk.standard_error)},
                   {"test_samples", risk.samples}, {"status", risk.status},
                   {"readout", fitted ? plan.readout : std::string("network")}};
  }
  return out;
}

// Memory (and, roughly, time) of a run, estimated before anything is allocated: the d x d sum
// per worker (accumulate_spectral_matrix), one block of rows per worker, the eigensolver's
// Lanczos basis, and the learner stage's training labels and input cache. A request that does
// not fit is refused with the estimate; a long one is announced on stderr.
void guard_resources(const est::SpectralConfig& cfg, int p, const StagePlan* plan) {
  const double d = cfg.d, n = double(cfg.n());
  const double blocks = std::ceil(n / cfg.block);
  const double workers = std::max(1.0, std::min<double>(cfg.threads, blocks));
  const double K = cfg.top_for(p), ncv = std::min(d, std::max(2 * K + 1, K + 24));
  double bytes = 8 * (workers * d * d + workers * std::min<double>(cfg.block, n) * (d + p + 2) + d * (ncv + K) + 4 * d);
  if (plan) {
    bytes += 8 * n;  // GD's labels
    if (plan->learner != "spectral") bytes += std::min(8 * n * d, plan->gd.cache_mb * 1024.0 * 1024.0);
    bytes += 8 * std::min<double>(plan->rc.samples, 1 << 16) * (plan->width + 2) * 2;  // readout blocks
  }
  const double avail = double(available_memory());  // numerics/resources.hpp
  if (avail > 0 && bytes > 0.9 * avail)
    throw UsageError("d = " + std::to_string(cfg.d) + ", alpha = " + theory::short_number(cfg.alpha) + " (needs about " +
                     format_bytes(bytes) + " with " + std::to_string(int(workers)) + " threads; " + format_bytes(avail) +
                     " available: must fit in memory; lower d, or --threads, which sets the number of d x d sums)");
  // Time: the weighted Gram is n d^2 flops (two DSYRKs), at about 40 GFLOP/s per thread here.
  const double seconds = n * d * d / (40e9 * workers);
  if (seconds > 60)
    std::cerr << "simulate: about " << format_duration(seconds) << " of computation (n d^2 = " << theory::short_number(n * d * d)
              << " flops on " << int(workers) << " threads)" << std::endl;
}

void check_amp_flags(const nlohmann::json& j, int p) {
  const long long k = j["amp_k"], iters = j["amp_iterations"];
  const double q0 = j["amp_q0"];
  if (k < 1 || k > p) throw UsageError("amp_k = " + std::to_string(k) + " (must be in [1, p = " + std::to_string(p) + "])");
  if (iters < 1 || iters > 1000) throw UsageError("amp_iterations = " + std::to_string(iters) + " (must be in [1, 1000])");
  if (!(q0 >= 0 && q0 < 1)) throw UsageError("amp_q0 = " + theory::format_number(q0) + " (must be in [0, 1))");
}

// --learner amp: GAMP on one direction's oracle channel (estimators/amp.hpp) with the state
// evolution it should follow (theory/bayes.hpp); no spectral run.
int run_amp_learner(const theory::ModelConfig& model, const nlohmann::json& j, const std::string& out) {
  est::AmpConfig c;
  const long long d = j["d"], k = j["amp_k"], iters = j["amp_iterations"], threads = j["threads"];
  if (d < 10 || d > 50000) throw UsageError("d = " + std::to_string(d) + " (must be in [10, 50000] for --learner amp)");
  c.d = int(d);
  c.alpha = j["alpha"];
  c.k = int(std::clamp<long long>(k, -1, 1 << 20));
  c.iterations = int(std::clamp<long long>(iters, -1, 1 << 20));
  c.q0 = j["amp_q0"];
  c.threads = threads == 0 ? default_threads() : int(std::clamp<long long>(threads, 0, 1 << 20));  // 0 = the CPUs available
  if (!(model.noise > 0)) throw UsageError("noise = " + theory::format_number(model.noise) + " (must be > 0 with --learner amp: the oracle channel)");
  try {
    c.validate(model.num_directions());
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();  // AmpConfig.field = value (...): name the flag instead
    const std::string field = msg.substr(10, msg.find(' ') - 10);
    const std::string flag = field == "d" || field == "alpha" || field == "threads" ? field : "amp_" + field;
    throw UsageError(flag + msg.substr(msg.find(' ')));
  }
  const est::Teacher teacher = est::make_teacher(model, c.d);
  const est::AmpResult r = est::run_amp(teacher, c);
  const double lambda = teacher.lambda[c.k - 1];
  const std::vector<double> se = theory::state_evolution(
      [&teacher, lambda](double z) { return lambda * teacher.sigma.value(z); }, model.noise, double(r.n) / c.d, c.q0,
      c.iterations, theory::BayesConfig{.kinks = teacher.sigma.kinks, .even = teacher.sigma.even});
  nlohmann::json traj = nlohmann::json::array();
  for (const auto& it : r.trajectory)
    traj.push_back({{"t", it.t}, {"overlap", number_or_null(it.overlap)}, {"self_overlap", number_or_null(it.self_overlap)},
                    {"cosine", number_or_null(it.cosine)}, {"V", number_or_null(it.V)},
                    {"state_evolution", number_or_null(se[std::size_t(it.t)])}});
  const nlohmann::json res = {{"d", c.d}, {"n", r.n}, {"alpha", c.alpha}, {"seed", model.seed}, {"model", model},
                              {"learner", {{"kind", "amp"}, {"k", c.k}, {"lambda", lambda}, {"q0", c.q0},
                                           {"iterations", c.iterations}, {"trajectory", traj}}},
                              {"threads", c.threads}, {"timing_s", {{"total", r.seconds}}},
                              {"status", r.status}, {"non_finite", r.status == "ok" ? nlohmann::json::array() : nlohmann::json::array({"learner"})}};
  emit_json(res, out);
  return r.status == "ok" ? 0 : 1;
}

}  // namespace

void register_simulate(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("simulate", "Simulate the spectral estimator at one (d, alpha, seed) (JSON on stdout)");
  auto flags = std::make_shared<ConfigFlags>(cmd);
  flags->add_model_flags();
  flags->add_string("engine", "direct (d x d matrix, d <= 50000) | krylov (law-exact block Krylov, memory O(n (p + r)), "
                   "d <= 16e6; outlier eigenpairs only: no learner stage; docs/krylov.md)", "direct");
  flags->add_int("blocks", "krylov: block budget (Krylov dimension (p + complement) blocks)", 20);
  flags->add_int("complement", "krylov: random complement directions in the starting block", 4);
  flags->add_double("tol", "krylov: a Ritz pair is converged when its residual <= tol max|eigenvalue|", 1e-6);
  flags->add_int("d", "input dimension", 500);
  flags->add_double("alpha", "sample ratio n/d (> 0)", 10.0);
  flags->add_int("top", "eigenpairs to compute, by |eigenvalue| (0 = max(2p, p+8), at most d)", 0);
  flags->add_int("threads", "threads for data generation and BLAS (0 = the CPUs this process may use, capped by OMP_NUM_THREADS / OPENBLAS_NUM_THREADS)", 0);
  flags->add_int("block", "rows per accumulation block (memory ~ 2 block d doubles)", 2048);
  flags->add_int("theory_samples", "Monte Carlo samples for the predicted bulk edge (outlier count)", 1 << 18);
  flags->add_int("width", "student width m (0 = p when a learner stage runs); > 0 runs the learner stage", 0);
  flags->add_string("learner", "first layer: spectral (top-m eigenvectors of M) | gd (plain GD) | gd-subspace (re-orthonormalised GD, the small-lr limit) | amp (GAMP on direction amp_k's oracle channel, no spectral run)", "spectral");
  flags->add_int("amp_k", "amp: direction whose oracle channel GAMP learns (1-based)", 1);
  flags->add_int("amp_iterations", "amp: GAMP iterations", 10);
  flags->add_double("amp_q0", "amp: initial overlap in [0, 1) (informed start at the Nishimori point; 0 = random start)", 0.1);
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
      if (!out->empty()) check_output_file("--out", *out);  // before any work: nothing half-done, nothing left
      const theory::ModelConfig model = flags->model();
      const nlohmann::json j = flags->merged();
      auto int_field = [&](const char* key, long long lo, long long hi) {
        const long long v = j[key];
        if (v < lo || v > hi)
          throw UsageError(std::string(key) + " = " + std::to_string(v) + " (must be in [" + std::to_string(lo) + ", " +
                           std::to_string(hi) + "])");
        return int(v);
      };
      const std::string engine = j["engine"];
      if (engine != "direct" && engine != "krylov") throw UsageError("engine = '" + theory::brief_text(engine) + "' (must be direct or krylov)");
      const bool krylov = engine == "krylov";
      est::SpectralConfig cfg;
      cfg.d = int_field("d", 1, krylov ? 16'000'000 : 50000);
      cfg.alpha = j["alpha"];
      cfg.top = int_field("top", 0, cfg.d);
      cfg.threads = int_field("threads", 0, 256);
      if (cfg.threads == 0) cfg.threads = default_threads();
      cfg.block = int_field("block", 1, 1 << 20);
      const int samples = int_field("theory_samples", 4096, 1 << 26);
      int width = int_field("width", 0, 10000);
      const std::string learner = j["learner"], readout = j["readout"];
      if (learner != "spectral" && learner != "gd" && learner != "gd-subspace" && learner != "amp")
        throw UsageError("learner = '" + learner + "' (must be spectral, gd, gd-subspace or amp)");
      check_amp_flags(j, model.num_directions());  // refused even when not used
      if (learner == "amp") return run_amp_learner(model, j, *out);
      if (readout != "none" && readout != "ridge" && readout != "ridge-same")
        throw UsageError("readout = '" + readout + "' (must be none, ridge or ridge-same)");
      const bool stage = width > 0 || learner != "spectral" || readout != "none";
      if (stage && krylov)
        throw UsageError("engine = 'krylov' (must be direct when a learner stage runs: --width, --learner and --readout need the full eigenvectors of M)");
      if (stage && width == 0) width = model.num_directions();
      if (width > cfg.d) throw UsageError("width = " + std::to_string(width) + " (must be <= d = " + std::to_string(cfg.d) + ")");
      if (stage) cfg.top = std::max(cfg.top_for(model.num_directions()), width);
      est::KrylovConfig kc;
      try {
        if (krylov) {
          kc = {.d = cfg.d, .alpha = cfg.alpha, .top = cfg.top, .threads = cfg.threads,
                .complement = int_field("complement", 0, 256), .max_blocks = int_field("blocks", 1, 10000),
                .min_blocks = std::min(6, int_field("blocks", 1, 10000)), .tol = j["tol"]};
          kc.validate(model.num_directions());
        } else {
          cfg.validate(model.num_directions());
        }
      } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
      }
      // Every flag is checked before the first computation (the learner's too, even when no
      // learner stage runs: a bad value is refused, not silently ignored).
      const StagePlan plan = plan_stage(j, cfg, cfg.n(), width, int_field);
      if (!krylov) guard_resources(cfg, model.num_directions(), stage ? &plan : nullptr);  // krylov: its own estimate
      // Outliers: eigenvalues beyond the predicted bulk edges by more than the finite-size
      // margin. Edge fluctuations are Tracy-Widom, O(d^(-2/3)) relative; 3 d^(-2/3) keeps
      // the bulk's top eigenvalue inside with high probability.
      theory::TheoryOptions opt;
      opt.mc_samples = std::uint64_t(samples);
      opt.max_directions = 1;
      const auto pred = theory::predict_spectral(model, {cfg.alpha}, theory::Method::automatic, opt);
      const double margin = 3.0 * std::pow(double(cfg.d), -2.0 / 3.0);
      const double up = pred.curve[0].bulk_edge.value, lo = pred.curve[0].bulk_edge_lower.value;

      const est::Teacher teacher = est::make_teacher(model, cfg.d);
      est::SpectralResult r;
      nlohmann::json engine_fields = {{"engine", engine}};
      if (krylov) {
        // The watched Ritz pairs: every Ritz value beyond the predicted edges (no margin, so that a
        // weak outlier near the edge is converged too; a bulk value beyond costs blocks, not accuracy).
        kc.edge_upper = up;
        kc.edge_lower = lo;
        est::KrylovResult k;
        try {
          k = est::run_krylov(teacher, kc);
        } catch (const std::invalid_argument& e) {
          throw UsageError(e.what());  // the memory refusal
        }
        r.n = k.n;
        r.mean_T = k.mean_T;
        r.eig = k.eig;
        r.metrics = k.metrics;
        r.timing = {.labels_s = k.labels_s, .accumulate_s = k.krylov_s, .eigen_s = 0, .total_s = k.total_s};
        std::vector<nlohmann::json> res_json;
        for (double v : k.residuals) res_json.push_back(number_or_null(v));
        engine_fields.update({{"blocks", k.blocks}, {"block_budget", kc.block_budget(teacher.p)}, {"complement", kc.complement},
                              {"krylov_dimension", k.dimension}, {"tol", kc.tol}, {"ritz_residuals", res_json},
                              {"converged", k.converged}, {"stop_reason", k.stop_reason}, {"memory_bytes", k.memory_bytes},
                              {"memory_bound_bytes", k.memory_bound}});
      } else {
        r = est::run_spectral(teacher, cfg);
      }
      std::vector<std::string> non_finite;  // parts of the output whose outcome is not finite
      if (r.eig.status == "non_finite") non_finite.push_back("eigensolver");
      // A non-finite edge makes every comparison false: the count would be a silent 0.
      nlohmann::json outliers = nullptr;
      if (std::isfinite(up) && std::isfinite(lo)) {
        int count = 0;
        for (double v : r.eig.values)
          if (v > up + margin * std::abs(up) || v < lo - margin * std::abs(lo)) ++count;
        outliers = count;
      } else {
        non_finite.push_back("predicted_bulk_edge");
      }

      nlohmann::json res = {
          {"d", cfg.d}, {"n", r.n}, {"alpha", cfg.alpha}, {"seed", model.seed}, {"model", model},
          {"eigenvalues", r.eig.values}, {"overlap", r.metrics.overlap},
          {"subspace_overlap", r.metrics.subspace_overlap}, {"principal_cosines", r.metrics.principal_cosines},
          {"outliers", outliers},
          {"predicted_bulk_edge", {number_or_null(up), number_or_null(lo)}}, {"outlier_margin", margin},
          {"theory_method", theory::to_string(pred.method)},
          {"mean_T", number_or_null(r.mean_T)},
          {"eigensolver", {{"status", r.eig.status}, {"residual", number_or_null(r.eig.residual)}, {"iterations", r.eig.iterations}}},
          {"threads", cfg.threads}, {"block", cfg.block},
          {"timing_s", {{"labels", r.timing.labels_s}, {"accumulate", r.timing.accumulate_s}, {"eigen", r.timing.eigen_s},
                        {"total", r.timing.total_s}}}};
      res.update(engine_fields);
      if (stage) res.update(learner_stage(plan, teacher, r, non_finite));
      // One status for the whole run: non_finite (exit 1) when any part is, with the parts named.
      res["status"] = non_finite.empty() ? "ok" : "non_finite";
      res["non_finite"] = non_finite;
      emit_json(res, *out);
      return non_finite.empty() ? 0 : 1;
    };
  });
}

}  // namespace hmi::app
