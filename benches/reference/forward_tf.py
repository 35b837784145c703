"""TensorFlow 2.15 reference for `cargo bench --bench forward`: frozen-base inference at
batch 32 through a `tf.function`, for InceptionV3 cut at mixed7 at 150x150
(`mixed7_150_b32`), MobileNetV2 notop at 160x160 (`mobilenet_v2_160_b32`), ResNet50 and VGG16
notop at 224x224 (`resnet50_224_b32`, `vgg16_224_b32`), Xception notop at 150x150
(`xception_150_b32`, the Keras transfer-learning guide's base), EfficientNetB0 notop at
224x224 (`efficientnet_b0_224_b32`, keras.io's fine-tuning example's base, built as
`weights="imagenet"` builds it without loading the file) and, with FULL=1,
the full InceptionV3 notop at 299x299 (`mixed10_299_b32`).

    pip install tensorflow-cpu==2.15.1
    TF_ENABLE_ONEDNN_OPTS=1 python benches/reference/forward_tf.py   # TensorFlow's best on AVX2
    python benches/reference/forward_tf.py                           # TensorFlow's default

Random weights and data: speed does not depend on the values. Prints images/s (median of
repeated timings). ONLY=mobilenet runs one model.
"""
import os
import statistics
import time

import numpy as np
import tensorflow as tf


def bench(name, model, size, batch=32, repeats=10):
    x = tf.constant(np.random.default_rng(0).random((batch, size, size, 3), dtype=np.float32))
    run = tf.function(lambda x: model(x, training=False))
    for _ in range(3):
        run(x).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(x).numpy()
        times.append(time.perf_counter() - start)
    print(f"forward/{name}: {batch / statistics.median(times):.1f} img/s (best {batch / min(times):.1f})", flush=True)


only = os.environ.get("ONLY", "")
print(f"TensorFlow {tf.__version__}, oneDNN {os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'default')}")
if only in "mixed7_150_b32":
    base = tf.keras.applications.InceptionV3(include_top=False, weights=None, input_shape=(150, 150, 3))
    bench("mixed7_150_b32", tf.keras.Model(base.input, base.get_layer("mixed7").output), 150)
if only in "mobilenet_v2_160_b32":
    bench("mobilenet_v2_160_b32", tf.keras.applications.MobileNetV2((160, 160, 3), include_top=False, weights=None), 160)
if only in "resnet50_224_b32":
    bench("resnet50_224_b32", tf.keras.applications.ResNet50(include_top=False, weights=None, input_shape=(224, 224, 3)), 224)
if only in "vgg16_224_b32":
    bench("vgg16_224_b32", tf.keras.applications.VGG16(include_top=False, weights=None, input_shape=(224, 224, 3)), 224)
if only in "xception_150_b32":
    bench("xception_150_b32", tf.keras.applications.Xception(include_top=False, weights=None, input_shape=(150, 150, 3)), 150)
if only in "efficientnet_b0_224_b32":
    from keras.src.applications import efficientnet
    from keras.src.engine import training

    # The `weights="imagenet"` architecture (its extra rescaling) without the download.
    efficientnet.data_utils.get_file = lambda *args, **kwargs: "unused.h5"
    training.Model.load_weights = lambda self, *args, **kwargs: None
    bench("efficientnet_b0_224_b32", tf.keras.applications.EfficientNetB0(include_top=False, input_shape=(224, 224, 3)), 224)
if os.environ.get("FULL") and only in "mixed10_299_b32":
    bench("mixed10_299_b32", tf.keras.applications.InceptionV3(include_top=False, weights=None, input_shape=(299, 299, 3)), 299)
