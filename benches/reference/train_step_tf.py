"""TensorFlow 2.15 reference for `cargo bench --bench train` and `--bench forward`: the course
model (InceptionV3 to mixed7 at 150x150, frozen, Flatten-Dense(1024)-Dropout-Dense(1)), one
`fit` step of batch 20 without augmentation; the same step fine-tuning the mixed7 block (its
layers after `mixed6` trainable, RMSprop(1e-5); Keras runs their batch norms on batch
statistics, as the course model calls the base without `training=False`, where the Rust bench
keeps them in inference mode: a per-channel mean and variance more here); and the frozen
base's inference at batch 32.

    pip install tensorflow-cpu==2.15.1
    python benches/reference/train_step_tf.py

Random weights and data: speed does not depend on the values. Prints images/s (median of
repeated timings) and the peak RSS of the process.
"""
import resource
import statistics
import time

import numpy as np
import tensorflow as tf

base = tf.keras.applications.InceptionV3(include_top=False, weights=None, input_shape=(150, 150, 3))
for layer in base.layers:
    layer.trainable = False
cut = base.get_layer("mixed7").output
x = tf.keras.layers.Flatten()(cut)
x = tf.keras.layers.Dense(1024, activation="relu")(x)
x = tf.keras.layers.Dropout(0.2)(x)
x = tf.keras.layers.Dense(1, activation="sigmoid")(x)
model = tf.keras.Model(base.input, x)
model.compile(optimizer=tf.keras.optimizers.RMSprop(learning_rate=1e-4), loss="binary_crossentropy", metrics=["accuracy"])

rng = np.random.default_rng(0)
steps = 10
images = rng.random((20 * steps, 150, 150, 3), dtype=np.float32)
labels = rng.integers(0, 2, (20 * steps, 1)).astype(np.float32)


def fit_rates():
    """Images/s of five `fit` epochs of `steps` batches of 20, after a traced warm-up."""
    model.fit(images[:40], labels[:40], batch_size=20, epochs=1, verbose=0)  # trace + warm up
    rates = []
    for _ in range(5):
        start = time.perf_counter()
        model.fit(images, labels, batch_size=20, epochs=1, verbose=0, shuffle=False)
        rates.append(20 * steps / (time.perf_counter() - start))
    return rates


rates = fit_rates()
print(f"train/course_step_b20 (TF fit): {statistics.median(rates):.1f} img/s (runs: {', '.join(f'{r:.1f}' for r in rates)})")

mixed6 = [layer.name for layer in base.layers].index("mixed6")
mixed7 = [layer.name for layer in base.layers].index("mixed7")
for layer in base.layers[mixed6 + 1 : mixed7 + 1]:
    layer.trainable = True
model.compile(optimizer=tf.keras.optimizers.RMSprop(learning_rate=1e-5), loss="binary_crossentropy", metrics=["accuracy"])
rates = fit_rates()
print(
    f"train/course_finetune_mixed7_b20 (TF fit): {statistics.median(rates):.1f} img/s (best {max(rates):.1f}; "
    f"runs: {', '.join(f'{r:.1f}' for r in rates)})"
)

features = tf.keras.Model(base.input, cut)
forward = tf.function(lambda x: features(x, training=False))
batch = tf.constant(rng.random((32, 150, 150, 3), dtype=np.float32))
forward(batch).numpy()
rates = []
for _ in range(5):
    start = time.perf_counter()
    forward(batch).numpy()
    rates.append(32 / (time.perf_counter() - start))
print(f"forward/mixed7_150_b32 (TF tf.function): {statistics.median(rates):.1f} img/s")
print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
