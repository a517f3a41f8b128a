"""Hidden checks of a04b, judged in the grader's process (instructor-only: never released, never
visible to the student's kernel). One function per graded test cell, named by its grade_id; it
returns the calls the kernel makes and how to check what comes back (dlcourse.grader.judge).

What is judged and how
----------------------
Every value is compared with this module's NumPy reference implementations (float64) on inputs
sent from here, and with hand oracles: KL(N(0, 1) || N(0, 1)) = 0, KL for mu = 1 is 1/2, for
sigma = 2 it is -(1 + ln 4 - 4)/2; at the GAN's equilibrium (all logits 0) L_D = 2 ln 2 and
L_G = ln 2; points on the line y = 2x have the first principal component (1, 2)/sqrt(5).
``python solutions/a04b/judge.py`` checks the references against libraries: PCA against
scikit-learn, the losses against Keras (binary cross-entropy on probabilities and on logits), and
the NumPy generator step against a TensorFlow GradientTape step with Keras' SGD.

The instructions say which functions call earlier ones (``vae_loss`` uses ``kl_divergence``;
``generator_step`` uses ``generator_loss``): a mistake in an earlier function can fail those
cells too, and the known-wrong cases in ``grader_tests/cases/a04b.toml`` list every cell each
mistake fails.

* ``test_pca`` (2): the line oracle (k = 1), and random data with well-separated eigenvalues
  (checked here: adjacent eigenvalues differ by at least 10 %), rotated and shifted far from the
  origin (so an uncentred covariance is wrong), with n from 12 to 200 (so the divisor n - 1 vs n
  shows), k from 1 to d. Components are compared row by row up to sign (each row's sign aligned
  with the reference's before comparing), explained variances to 1e-6 relative.
* ``test_pca_reconstruct`` (1): the reference's mean and components (sent from here, so a wrong
  ``pca`` cannot cost this cell), k = 1, 2 and d.
* ``test_sample_latent`` (2): 40,000 draws per dimension from four (mu, sigma) pairs with sigma
  from 0.5 to 2 (mean within 5 standard errors of mu, standard deviation within 5 standard
  errors of sigma, correlations between dimensions within 5/sqrt(N) of 0: one eps per example
  shared by all dimensions is wrong), and a call with float32 tensors under a gradient tape: d sum(z)/d mu = 1 and
  d sum(z)/d log sigma^2 = (z - mu)/2 (computed from the returned z), no gradient missing.
* ``test_kl`` (2): the hand oracles and random batches (d = 1, 3, 10), per example, to 1e-5.
* ``test_vae_loss`` (2): random images of shapes (4, 28, 28, 1), (3, 5, 7, 1) and (1, 28, 28, 1),
  probabilities in [0.01, 0.99], to 1e-4 relative (float32 sums of 784 terms).
* ``test_discriminator_loss`` (2) and ``test_generator_loss`` (1): the equilibrium, random logits
  in [-5, 5] with batches of different sizes (so a mean over the joined batch is wrong), to 1e-4.
* ``test_generator_step`` (2): two pairs of small dense models (generator Dense-relu-Dense-tanh,
  discriminator Dense-relu-Dense logit) with weights sent from here, plain SGD (learning rate
  0.1): the returned loss, the generator's weights after the step (the reference update
  w - 0.1 * grad, backpropagated by hand in NumPy), the discriminator's weights unchanged.
* ``test_vae_architecture`` (1): for latent sizes 2 and 5 the encoder maps (28, 28, 1) to two
  outputs of shape (batch, latent), the decoder (latent,) to (28, 28, 1) values in [0, 1], at most
  MAX_PARAMS parameters together (the model worker rebuilds both).
* ``test_vae_training`` (2): the model worker (``modellab.op_vae``) trains the pair with the
  reference loss and the reparameterization (VAE_FIT) and the mean loss on the 1,000 test digits
  must be at most MAX_TEST_LOSS.

Calibration of the VAE fit (4,000 training digits, 5 epochs, Adam 0.003, batch 32, latent 2,
seed 0; mean loss on 1,000 test digits; seconds of the worker on this 2-core box, 2026-12-01):

=================================================  ==========  =========  =======
encoder / decoder                                  parameters  test loss  seconds
=================================================  ==========  =========  =======
reference: Dense 256 each (04_4's quick-mode VAE)     404,244      171.5      4.1
Dense 64 each                                         101,652      178.7      3.4
keras-io's convolutional VAE                          134,165      186.8     10.5
log-variance head with a relu (log sigma^2 >= 0)      404,244      184.1      4.1
encoder that ignores its input (Rescaling(0))         404,244      209.7      5.7
decoder without the sigmoid (linear output)           404,244      352.6      4.9
=================================================  ==========  =========  =======

The relu on the log-variance is a flaw (sigma can never go below 1) that this short run does not
punish, and the instructions do not forbid it; the bar of 195 sits between the correct
architectures (at most 186.8) and a VAE that learned nothing about its input (209.7), which
reaches the loss of the average digit. The decoder without sigmoid also fails the architecture
cell (outputs outside [0, 1]). In full mode the worker's 4,000 training digits are the first
4,000 of Keras' 60,000 and the test digits all 10,000; full mode was not measured (no network
here), so the bar is the same.
"""

from __future__ import annotations

import numpy as np

from dlcourse.answers import ModelConfig, TensorValue, decode, encode
from dlcourse.checks import check_close
from dlcourse.grader.judge import Case, _describe, call, make_model, make_optimizer
from dlcourse.grader.judge import layer_spec, sequential_config

# ------------------------------------------------------------------ reference implementations


def ref_pca(x, k):
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(x - mean, rowvar=False))
    order = np.argsort(values)[::-1][:k]
    return mean, vectors[:, order].T, values[order]


def ref_pca_reconstruct(x, mean, components):
    return (np.asarray(x, np.float64) - mean) @ components.T @ components + mean


def ref_kl(z_mean, z_log_var):
    z_mean, z_log_var = np.asarray(z_mean, np.float64), np.asarray(z_log_var, np.float64)
    return -0.5 * np.sum(1 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=-1)


def ref_vae_loss(x, reconstruction, z_mean, z_log_var):
    x, p = np.asarray(x, np.float64), np.clip(np.asarray(reconstruction, np.float64), 1e-7, 1 - 1e-7)
    rec = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=tuple(range(1, x.ndim)))
    return float(np.mean(rec + ref_kl(z_mean, z_log_var)))


def _softplus(t):
    return np.logaddexp(0.0, t)


def ref_discriminator_loss(real_logits, fake_logits):
    """mean BCE(1, real) + mean BCE(0, fake) on logits: BCE(1, l) = softplus(-l), BCE(0, l) = softplus(l)."""
    return float(np.mean(_softplus(-np.asarray(real_logits, np.float64))) + np.mean(_softplus(np.asarray(fake_logits, np.float64))))


def ref_generator_loss(fake_logits):
    return float(np.mean(_softplus(-np.asarray(fake_logits, np.float64))))


def _sigmoid(t):
    return 1 / (1 + np.exp(-t))


def ref_generator_step(g_weights, d_weights, noise, learning_rate):
    """(loss before the step, the generator's weights after one SGD step on the non-saturating loss)
    for generator Dense(h, relu) -> Dense(o, tanh) and discriminator Dense(h2, relu) -> Dense(1),
    backpropagated by hand."""
    w1, b1, w2, b2 = (np.asarray(w, np.float64) for w in g_weights)
    v1, c1, v2, c2 = (np.asarray(w, np.float64) for w in d_weights)
    z = np.asarray(noise, np.float64)
    a1 = z @ w1 + b1
    h1 = np.maximum(a1, 0)
    image = np.tanh(h1 @ w2 + b2)
    a2 = image @ v1 + c1
    h2 = np.maximum(a2, 0)
    logits = h2 @ v2 + c2  # (n, 1)
    n = len(z)
    loss = float(np.mean(_softplus(-logits)))
    d_logits = -_sigmoid(-logits) / n  # d mean(softplus(-l)) / dl
    d_h2 = d_logits @ v2.T
    d_a2 = d_h2 * (a2 > 0)
    d_image = d_a2 @ v1.T
    d_pre = d_image * (1 - image**2)
    grad_w2, grad_b2 = h1.T @ d_pre, d_pre.sum(0)
    d_a1 = (d_pre @ w2.T) * (a1 > 0)
    grad_w1, grad_b1 = z.T @ d_a1, d_a1.sum(0)
    updated = [w - learning_rate * g for w, g in zip((w1, b1, w2, b2), (grad_w1, grad_b1, grad_w2, grad_b2))]
    return loss, updated


# ------------------------------------------------------------------ small checks
def _as_array(value, label, what):
    """A NumPy array or a tensor (both fine where the instructions ask for an array)."""
    if isinstance(value, TensorValue):
        value = np.asarray(value)
    if type(value) is not np.ndarray or value.dtype.kind not in "fiu":
        raise AssertionError(f"{label}: expected {what}, got {_describe(value)}")
    return value.astype(np.float64)


def _scalar(value, label):
    """One number: a Python or NumPy float, or a 0-d (or one-element) tensor or array."""
    if isinstance(value, bool):
        raise AssertionError(f"{label}: expected one number (the loss), got {_describe(value)}")
    if type(value) in (float, int) or isinstance(value, (np.floating, np.integer)):
        return float(value)
    if isinstance(value, TensorValue) or type(value) is np.ndarray:
        array = np.asarray(value, np.float64)
        if array.size == 1:
            return float(array.reshape(()))
        raise AssertionError(f"{label}: expected one number (the loss), got an array of shape {array.shape}")
    raise AssertionError(f"{label}: expected one number (the loss), got {_describe(value)}")


def _values(expected, *, rtol=1e-5, atol=1e-5, what="an array or tensor"):
    expected = np.asarray(expected, np.float64)

    def check(out, label):
        value = _as_array(out.value, label, f"{what} of shape {expected.shape}")
        if value.shape != expected.shape:
            raise AssertionError(f"{label}: expected shape {expected.shape}, got shape {value.shape}")
        check_close(value, expected, label, rtol=rtol, atol=atol)
    return check


def _number(expected, *, rtol=1e-4, atol=1e-6):
    def check(out, label):
        got = _scalar(out.value, label)
        if not np.isfinite(got) or abs(got - expected) > atol + rtol * abs(expected):
            raise AssertionError(f"{label}: expected {expected:.6g}, got {got:.6g}")
    return check


# ------------------------------------------------------------------ 1. PCA
def _pca_data(rng, n, d, scales, offset=0.0):
    """n points in d dimensions with standard deviations ``scales`` along random orthogonal axes,
    shifted by ``offset`` (eigenvalues of the sample covariance checked to be well separated)."""
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    x = (rng.normal(size=(n, d)) * scales) @ q.T + offset * rng.uniform(0.5, 1.5, d)
    values = np.sort(np.linalg.eigvalsh(np.cov(x, rowvar=False)))[::-1]
    assert np.all(values[1:] < 0.9 * values[:-1]), "PCA test data must have separated eigenvalues"
    return x


def _pca_result(x, k):
    mean, components, variance = ref_pca(x, k)

    def check(out, label):
        value = out.value
        if type(value) not in (tuple, list) or len(value) != 3:
            raise AssertionError(f"{label}: expected a tuple (mean, components, explained_variance), got {_describe(value)}")
        got_mean = _as_array(value[0], f"{label}: mean", f"a NumPy array of shape {mean.shape}")
        got = _as_array(value[1], f"{label}: components", f"a NumPy array of shape {components.shape}")
        got_var = _as_array(value[2], f"{label}: explained_variance", f"a NumPy array of shape {variance.shape}")
        for name, have, want in (("mean", got_mean, mean), ("components", got, components),
                                 ("explained_variance", got_var, variance)):
            if have.shape != want.shape:
                hint = " (the components as rows: (k, d))" if name == "components" and have.shape == want.shape[::-1] else ""
                raise AssertionError(f"{label}: expected {name} of shape {want.shape}{hint}, got shape {have.shape}")
        check_close(got_mean, mean, f"{label}: mean", rtol=1e-7, atol=1e-9)
        signs = np.where(np.sum(got * components, axis=1) < 0, -1.0, 1.0)[:, None]  # either sign is right
        check_close(got * signs, components, f"{label}: components (each compared up to its sign)", rtol=1e-5, atol=1e-6)
        check_close(got_var, variance, f"{label}: explained_variance (eigenvalues, divisor n - 1)", rtol=1e-6, atol=1e-12)
    return check


def test_pca(ctx):
    # the first cell judged: start the model worker (its TensorFlow import) while the kernel runs
    ctx.warm_up("inspect", config=WARM_UP_MODEL)
    rng = np.random.default_rng(41)
    t = np.linspace(-2, 3, 15)
    line = np.c_[t, 2 * t] + [1.0, 4.0]
    _, oracle, _ = ref_pca(line, 1)
    assert np.allclose(np.abs(oracle[0]), [1 / np.sqrt(5), 2 / np.sqrt(5)])  # the hand oracle
    data = [
        ("points on the line y = 2x, k = 1", line, 1),
        ("60 points in 5-D, k = 2", _pca_data(rng, 60, 5, [4.0, 2.5, 1.5, 0.8, 0.3]), 2),
        ("200 points in 10-D, k = 3", _pca_data(rng, 200, 10, np.geomspace(5, 0.2, 10)), 3),
        ("12 points in 4-D, all k = 4 components", _pca_data(np.random.default_rng(5), 12, 4, [3.0, 1.5, 0.7, 0.2]), 4),
        ("40 points in 6-D far from the origin (mean about 100), k = 2",
         _pca_data(rng, 40, 6, [3.0, 2.0, 1.2, 0.7, 0.4, 0.2], offset=100.0), 2),
    ]
    return [Case(f"pca({name})", call("pca", x, k), _pca_result(x, k)) for name, x, k in data]


def test_pca_reconstruct(ctx):
    rng = np.random.default_rng(42)
    cases = []
    for n, d, k in ((30, 5, 1), (50, 8, 2), (20, 4, 4)):
        x = _pca_data(rng, n, d, np.geomspace(3, 0.3, d), offset=5.0)
        mean, components, _ = ref_pca(x, k)
        cases.append(Case(f"pca_reconstruct({n} points in {d}-D, {k} component(s))",
                          call("pca_reconstruct", x, mean, components),
                          _values(ref_pca_reconstruct(x, mean, components), rtol=1e-7, atol=1e-8,
                                  what="a NumPy array")))
    return cases


# ------------------------------------------------------------------ 2. the reparameterization
N_DRAWS = 40_000
DRAW_MU = np.array([1.0, -2.0, 0.0, 0.5], np.float32)
DRAW_SIGMA = np.array([0.5, 2.0, 1.5, 0.8], np.float32)
MU_TEXT, SIGMA_TEXT = [round(float(v), 3) for v in DRAW_MU], [round(float(v), 3) for v in DRAW_SIGMA]


def _draw_statistics(out, label):
    z = _as_array(out.value, label, f"an array or tensor of shape ({N_DRAWS}, {len(DRAW_MU)})")
    if z.shape != (N_DRAWS, len(DRAW_MU)):
        raise AssertionError(f"{label}: expected shape {(N_DRAWS, len(DRAW_MU))}, got shape {z.shape}")
    if not np.all(np.isfinite(z)):
        raise AssertionError(f"{label}: expected finite samples, got NaN or infinity")
    mean, std = z.mean(axis=0), z.std(axis=0)
    se_mean, se_std = DRAW_SIGMA / np.sqrt(N_DRAWS), DRAW_SIGMA / np.sqrt(2 * N_DRAWS)
    if np.any(np.abs(mean - DRAW_MU) > 5 * se_mean):
        raise AssertionError(f"{label}: expected the draws' mean to be mu = {MU_TEXT} (within 5 standard errors), "
                             f"got {np.round(mean, 3).tolist()}")
    if np.any(np.abs(std - DRAW_SIGMA) > 5 * se_std):
        raise AssertionError(f"{label}: expected the draws' standard deviation to be sigma = exp(log_var / 2) = "
                             f"{SIGMA_TEXT} (within 5 standard errors), got {np.round(std, 3).tolist()}")
    # independent noise per dimension: each correlation between two dimensions is 0 up to about 1/sqrt(N)
    corr = np.corrcoef(z, rowvar=False)[np.triu_indices(len(DRAW_MU), 1)]
    if np.max(np.abs(corr)) > 5 / np.sqrt(N_DRAWS):
        raise AssertionError(f"{label}: expected independent noise in every latent dimension (eps of shape (n, d), "
                             f"correlations near 0), got correlations up to {np.max(np.abs(corr)):.3f} between dimensions")


def _gradients(mu):
    def check(out, label):
        z = _as_array(out.value, label, f"an array or tensor of shape {mu.shape}")
        if z.shape != mu.shape:
            raise AssertionError(f"{label}: expected shape {mu.shape}, got shape {z.shape}")
        for i, name in ((0, "z_mean"), (1, "z_log_var")):
            if out.gradients.get(i) is None:
                raise AssertionError(f"{label}: expected a gradient of z with respect to {name}, got none: a NumPy "
                                     "step (np.exp, np.random, np.asarray) cuts the chain; use keras.ops and keras.random")
        check_close(np.asarray(out.gradients[0], np.float64), np.ones(mu.shape), f"{label}: d sum(z) / d z_mean",
                    rtol=1e-5, atol=1e-6)
        check_close(np.asarray(out.gradients[1], np.float64), 0.5 * (z - mu), f"{label}: d sum(z) / d z_log_var = (z - mu) / 2",
                    rtol=1e-4, atol=1e-5)
    return check


def test_sample_latent(ctx):
    mu = np.tile(DRAW_MU, (N_DRAWS, 1))
    log_var = np.tile(np.log(DRAW_SIGMA**2), (N_DRAWS, 1)).astype(np.float32)
    rng = np.random.default_rng(43)
    small_mu = rng.normal(0, 1, (6, 3)).astype(np.float32)
    small_lv = rng.uniform(-2, 1.5, (6, 3)).astype(np.float32)
    return [
        Case(f"sample_latent({N_DRAWS:,} rows of mu = {MU_TEXT}, sigma = {SIGMA_TEXT}, seed=7)",
             call("sample_latent", mu, log_var, 7), _draw_statistics),
        Case("sample_latent(6 x 3 tensors, seed=11) under a gradient tape",
             call("sample_latent", small_mu, small_lv, 11, gradient=True), _gradients(small_mu.astype(np.float64))),
    ]


# ------------------------------------------------------------------ 3. KL
def test_kl(ctx):
    rng = np.random.default_rng(44)
    hand = (np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]], np.float32),
            np.array([[0.0, 0.0], [0.0, 0.0], [np.log(4.0), 0.0]], np.float32))
    assert np.allclose(ref_kl(*hand), [0.0, 0.5, -0.5 * (1 + np.log(4.0) - 4.0)])  # the hand oracles
    data = [("the hand oracles (mu = 0; mu = 1; sigma = 2)", *hand)]
    for n, d in ((7, 3), (5, 1), (4, 10)):
        data.append((f"{n} examples, {d}-D latent", rng.normal(0, 1.5, (n, d)).astype(np.float32),
                     rng.uniform(-3, 2, (n, d)).astype(np.float32)))
    return [Case(f"kl_divergence({name})", call("kl_divergence", m, lv), _values(ref_kl(m, lv), what="one KL per example"))
            for name, m, lv in data]


# ------------------------------------------------------------------ 4. the VAE loss
def test_vae_loss(ctx):
    rng = np.random.default_rng(45)
    cases = []
    for n, h, w, d in ((4, 28, 28, 2), (3, 5, 7, 3), (1, 28, 28, 5)):
        x = rng.uniform(0, 1, (n, h, w, 1)).astype(np.float32)
        x[: n // 2 + 1] = (x[: n // 2 + 1] > 0.7).astype(np.float32)  # binary images and grey ones
        reconstruction = rng.uniform(0.01, 0.99, (n, h, w, 1)).astype(np.float32)
        z_mean = rng.normal(0, 1, (n, d)).astype(np.float32)
        z_log_var = rng.uniform(-2, 1, (n, d)).astype(np.float32)
        cases.append(Case(f"vae_loss({n} images of {h}x{w}x1, latent {d})",
                          call("vae_loss", x, reconstruction, z_mean, z_log_var),
                          _number(ref_vae_loss(x, reconstruction, z_mean, z_log_var))))
    return cases


# ------------------------------------------------------------------ 5. GAN losses
def test_discriminator_loss(ctx):
    rng = np.random.default_rng(46)
    zeros = np.zeros((4, 1), np.float32)
    assert abs(ref_discriminator_loss(zeros, zeros) - 2 * np.log(2)) < 1e-12
    data = [("all logits 0 (the equilibrium: 2 ln 2)", zeros, np.zeros((6, 1), np.float32))]
    for n_real, n_fake in ((5, 3), (8, 8), (2, 7)):
        data.append((f"{n_real} real and {n_fake} fake logits", rng.uniform(-5, 5, (n_real, 1)).astype(np.float32),
                     rng.uniform(-5, 5, (n_fake, 1)).astype(np.float32)))
    return [Case(f"discriminator_loss({name})", call("discriminator_loss", r, f), _number(ref_discriminator_loss(r, f)))
            for name, r, f in data]


def test_generator_loss(ctx):
    rng = np.random.default_rng(47)
    data = [("all logits 0 (ln 2)", np.zeros((3, 1), np.float32))]
    data += [(f"{n} fake logits", rng.uniform(-5, 5, (n, 1)).astype(np.float32)) for n in (5, 9)]
    return [Case(f"generator_loss({name})", call("generator_loss", f), _number(ref_generator_loss(f))) for name, f in data]


# ------------------------------------------------------------------ 6. a generator step
WARM_UP_MODEL = sequential_config("warm_up", (4,), [layer_spec("Dense", units=1)])
STEP_LEARNING_RATE = 0.1


def _pair(latent, hidden, image, d_hidden):
    generator = sequential_config("generator", (latent,), [layer_spec("Dense", units=hidden, activation="relu"),
                                                           layer_spec("Dense", units=image, activation="tanh")])
    discriminator = sequential_config("discriminator", (image,), [layer_spec("Dense", units=d_hidden, activation="relu"),
                                                                  layer_spec("Dense", units=1)])
    return generator, discriminator


def _step_check(loss, g_after, d_weights):
    def check(out, label):
        got = _scalar(out.value, f"{label}: the returned loss")
        if not abs(got - loss) <= 1e-4 * abs(loss) + 1e-6:
            raise AssertionError(f"{label}: expected the returned generator loss (before the update) {loss:.6g}, got {got:.6g}")
        after_g, after_d = out.after.get(0), out.after.get(1)
        if after_g is None or after_d is None:
            raise AssertionError(f"{label}: the grader could not read the models' weights after the call")
        for i, (have, want) in enumerate(zip(after_d, d_weights)):
            if not np.array_equal(np.asarray(have), want):
                raise AssertionError(f"{label}: expected the discriminator's weights unchanged by the generator's step, "
                                     f"got weight {i} (shape {want.shape}) changed by up to "
                                     f"{np.max(np.abs(np.asarray(have, np.float64) - want)):.3g}")
        for i, (have, want) in enumerate(zip(after_g, g_after)):
            check_close(np.asarray(have, np.float64), want,
                        f"{label}: generator weight {i} (shape {want.shape}) after one SGD step "
                        f"(learning rate {STEP_LEARNING_RATE}) on the non-saturating loss", rtol=1e-4, atol=1e-6)
    return check


def test_generator_step(ctx):
    cases = []
    for seed, (latent, hidden, image, d_hidden, n) in ((48, (4, 8, 6, 8, 16)), (49, (3, 5, 4, 6, 10))):
        rng = np.random.default_rng(seed)
        shapes_g = [(latent, hidden), (hidden,), (hidden, image), (image,)]
        shapes_d = [(image, d_hidden), (d_hidden,), (d_hidden, 1), (1,)]
        g_weights = [rng.normal(0, 0.6, s).astype(np.float32) for s in shapes_g]
        d_weights = [rng.normal(0, 0.6, s).astype(np.float32) for s in shapes_d]
        noise = rng.normal(0, 1, (n, latent)).astype(np.float32)
        loss, g_after = ref_generator_step(g_weights, d_weights, noise, STEP_LEARNING_RATE)
        generator, discriminator = _pair(latent, hidden, image, d_hidden)
        cases.append(Case(f"generator_step(generator {latent}->{hidden}->{image}, discriminator {image}->{d_hidden}->1, "
                          f"SGD({STEP_LEARNING_RATE}), noise of {n} x {latent})",
                          call("generator_step", make_model(generator, g_weights), make_model(discriminator, d_weights),
                               make_optimizer("SGD", learning_rate=STEP_LEARNING_RATE), noise),
                          _step_check(loss, g_after, [np.asarray(w) for w in d_weights])))
    return cases


# ------------------------------------------------------------------ 7. a VAE trained by the grader
# The model worker (modellab.op_vae) trains the pair with the reference loss and the
# reparameterization: Adam, batch 32, seed 0, on the first VAE_FIT["train"] digits of the worker's
# MNIST, and measures 1,000 test digits. Calibration: see the module docstring.
VAE_FIT = {"latent": 2, "train": 4_000, "test": 1_000, "epochs": 5, "batch_size": 32, "learning_rate": 3e-3, "seed": 0}
MAX_PARAMS = 500_000
MAX_TEST_LOSS = 195.0


def _pair_configs(value, label):
    if type(value) not in (tuple, list) or len(value) != 2:
        raise AssertionError(f"{label}: expected build_encoder and build_decoder to return Keras models, got {_describe(value)}")
    for name, model in zip(("build_encoder", "build_decoder"), value):
        if not isinstance(model, ModelConfig):
            raise AssertionError(f"{label}: expected {name} to return a Keras model, got {_describe(model)}")
    return value[0].config, value[1].config


def _architecture(ctx, latent):
    def check(out, label):
        encoder, decoder = _pair_configs(out.value, label)
        reply = ctx.ask(label, "vae", encoder=encoder, decoder=decoder, **{**VAE_FIT, "latent": latent, "epochs": 0,
                                                                           "test": 100, "max_params": MAX_PARAMS})
        if reply["params"] > MAX_PARAMS:
            raise AssertionError(f"{label}: expected at most {MAX_PARAMS:,} parameters in the encoder and decoder "
                                 f"together, got {reply['params']:,}")
        wanted = {"encoder_inputs": [[None, 28, 28, 1]], "encoder_outputs": [[None, latent]] * 2,
                  "decoder_inputs": [[None, latent]], "decoder_outputs": [[None, 28, 28, 1]]}
        for key, shapes in wanted.items():
            if reply[key] != shapes:
                what = key.replace("_", " ")
                raise AssertionError(f"{label}: expected {what} of shapes {shapes} (None: the batch), got {reply[key]}")
        z = np.random.default_rng(latent).normal(0, 1.5, (6, latent)).astype(np.float32)
        images = ctx.ask(label, "inspect", config=decoder, inputs=encode(z)).get("outputs")
        images = None if images is None else np.asarray(decode(images), np.float64)
        if images is None or images.shape != (6, 28, 28, 1):
            raise AssertionError(f"{label}: expected the decoder to map 6 latent points to (6, 28, 28, 1), got "
                                 f"{None if images is None else images.shape}")
        if images.min() < 0 or images.max() > 1:
            raise AssertionError(f"{label}: expected pixel probabilities in [0, 1] (a sigmoid last activation), got "
                                 f"values from {images.min():.3f} to {images.max():.3f}")
    return check


def test_vae_architecture(ctx):
    return [Case(f"build_encoder({latent}), build_decoder({latent})", call("build_vae", latent), _architecture(ctx, latent))
            for latent in (2, 5)]


def _trained(ctx):
    def check(out, label):
        encoder, decoder = _pair_configs(out.value, label)
        reply = ctx.ask(label, "vae", encoder=encoder, decoder=decoder, **{**VAE_FIT, "max_params": MAX_PARAMS})
        if "skipped" in reply:
            raise AssertionError(f"{label}: expected an encoder (28, 28, 1) -> [z_mean, z_log_var] and a decoder (latent,) -> "
                                 f"(28, 28, 1) with at most {MAX_PARAMS:,} parameters together, got models the grader did "
                                 f"not train: {reply['skipped']} ({reply['params']:,} parameters)")
        loss = reply["test_loss"]
        if loss is None or not loss <= MAX_TEST_LOSS:
            got = "a loss that is not a number" if loss is None else (
                f"{loss:.1f} (reconstruction {reply['test_reconstruction']:.1f} + KL {reply['test_kl']:.2f})")
            raise AssertionError(
                f"{label}: after training on {VAE_FIT['train']:,} digits for {VAE_FIT['epochs']} epochs (Adam "
                f"{VAE_FIT['learning_rate']}, batch {VAE_FIT['batch_size']}, latent {VAE_FIT['latent']}), expected a test "
                f"loss of at most {MAX_TEST_LOSS:.0f}, got {got}; the lecture's dense VAE reaches 171.5")
    return check


def test_vae_training(ctx):
    return [Case(f"a VAE of build_encoder({VAE_FIT['latent']}) and build_decoder({VAE_FIT['latent']}), trained by the grader",
                 call("build_vae", VAE_FIT["latent"]), _trained(ctx))]


# ------------------------------------------------------------------ self-test against libraries
def _self_test():
    import keras
    import tensorflow as tf
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    for n, d, k in ((60, 5, 2), (200, 10, 3), (12, 4, 4)):
        x = _pca_data(rng, n, d, np.geomspace(4, 0.3, d), offset=10.0)
        mean, components, variance = ref_pca(x, k)
        sk = PCA(k).fit(x)
        signs = np.sign(np.sum(components * sk.components_, axis=1))[:, None]
        assert np.allclose(mean, sk.mean_) and np.allclose(components * signs, sk.components_, atol=1e-8)
        assert np.allclose(variance, sk.explained_variance_, rtol=1e-10)
    print("PCA: the reference equals scikit-learn (mean, components up to sign, explained variance)")
    x = rng.uniform(0, 1, (3, 6, 5, 1)).astype(np.float32)
    p = rng.uniform(0.01, 0.99, x.shape).astype(np.float32)
    m, lv = rng.normal(size=(3, 2)).astype(np.float32), rng.normal(size=(3, 2)).astype(np.float32)
    keras_loss = float(np.mean(np.sum(keras.losses.binary_crossentropy(x, p).numpy(), axis=(1, 2)))) + float(np.mean(ref_kl(m, lv)))
    assert abs(keras_loss - ref_vae_loss(x, p, m, lv)) < 1e-4 * abs(keras_loss)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    real, fake = rng.uniform(-5, 5, (5, 1)).astype(np.float32), rng.uniform(-5, 5, (3, 1)).astype(np.float32)
    assert abs(float(bce(np.ones_like(real), real) + bce(np.zeros_like(fake), fake)) - ref_discriminator_loss(real, fake)) < 1e-5
    assert abs(float(bce(np.ones_like(fake), fake)) - ref_generator_loss(fake)) < 1e-5
    print("losses: the references equal Keras' binary cross-entropy (summed over pixels; on logits)")
    for case in test_generator_step(None):
        args = case.call["args"]
        generator, discriminator = (keras.models.model_from_json(a["__make_model__"]["config"]) for a in args[:2])
        generator.set_weights([decode(w) for w in args[0]["__make_model__"]["weights"]])
        discriminator.set_weights([decode(w) for w in args[1]["__make_model__"]["weights"]])
        noise = decode(args[3])
        d_before = [w.copy() for w in discriminator.get_weights()]
        with tf.GradientTape() as tape:
            loss = bce(tf.ones((len(noise), 1)), discriminator(generator(noise)))
        grads = tape.gradient(loss, generator.trainable_weights)
        keras.optimizers.SGD(STEP_LEARNING_RATE).apply_gradients(zip(grads, generator.trainable_weights))
        from dlcourse.grader.judge import Outcome

        case.check(Outcome(float(loss), {0: generator.get_weights(), 1: d_before}), case.name)
    print("generator step: the NumPy backpropagation equals a GradientTape step with Keras' SGD")


if __name__ == "__main__":
    _self_test()
