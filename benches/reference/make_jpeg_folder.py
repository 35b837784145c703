"""A cats-vs-dogs-shaped folder of JPEG photos (~400 px, like the course's data), to time
the main job on: `cargo run --release --example cats_vs_dogs -- --data DIR ...` beside
`epoch_tf.py DIR`. Crops of scikit-image's photos, each different.

    python benches/reference/make_jpeg_folder.py /tmp/jpeg_folder [train_per_class] [val_per_class]
"""
import os
import sys

import numpy as np
import skimage.data
from PIL import Image

root = sys.argv[1]
train, val = (int(sys.argv[2]) if len(sys.argv) > 2 else 200), (int(sys.argv[3]) if len(sys.argv) > 3 else 100)
photos = [skimage.data.chelsea(), skimage.data.coffee(), skimage.data.astronaut(), skimage.data.rocket()]
rng = np.random.default_rng(0)
for split, count in [("train", train), ("validation", val)]:
    for label, name in enumerate(["cats", "dogs"]):
        folder = os.path.join(root, split, name)
        os.makedirs(folder, exist_ok=True)
        for i in range(count):
            photo = photos[(2 * label + i) % len(photos)]
            h, w = photo.shape[:2]
            ch, cw = rng.integers(h // 2, h), rng.integers(w // 2, w)
            y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
            size = (int(rng.integers(350, 500)), int(rng.integers(300, 450)))
            image = Image.fromarray(photo[y : y + ch, x : x + cw]).resize(size, Image.BILINEAR)
            image.save(os.path.join(folder, f"{name}.{i}.jpg"), quality=90)
print(f"{root}: {2 * train} training and {2 * val} validation JPEGs")
