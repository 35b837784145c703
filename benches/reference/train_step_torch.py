"""PyTorch reference for `cargo bench --bench train` and `--bench forward`: torchvision's
InceptionV3 to Mixed_6e (Keras' mixed7) at 150x150, frozen, channels_last, the course head,
one training step of batch 20 (RMSprop, BCE), and the frozen base's inference at batch 32.

    pip install torch torchvision
    python benches/reference/train_step_torch.py

Random weights and data: speed does not depend on the values. Prints images/s (median).
"""
import statistics
import time

import torch
import torchvision

torch.manual_seed(0)
net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False).eval()
names = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
         "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"]
base = torch.nn.Sequential(*[getattr(net, n) for n in names]).eval().to(memory_format=torch.channels_last)
for p in base.parameters():
    p.requires_grad_(False)
head = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(768 * 7 * 7, 1024), torch.nn.ReLU(),
                           torch.nn.Dropout(0.2), torch.nn.Linear(1024, 1))
optimizer = torch.optim.RMSprop(head.parameters(), lr=1e-4, alpha=0.9, eps=1e-7)
loss_fn = torch.nn.BCEWithLogitsLoss()

images = torch.rand(20, 3, 150, 150).to(memory_format=torch.channels_last)
labels = torch.randint(0, 2, (20, 1)).float()


def step():
    with torch.no_grad():
        features = base(images)
    loss = loss_fn(head(features), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


for _ in range(3):
    step()
rates = []
for _ in range(5):
    start = time.perf_counter()
    for _ in range(5):
        step()
    rates.append(100 / (time.perf_counter() - start))
print(f"train/course_step_b20 (torch channels_last): {statistics.median(rates):.1f} img/s")

batch = torch.rand(32, 3, 150, 150).to(memory_format=torch.channels_last)
with torch.no_grad():
    base(batch)
    rates = []
    for _ in range(5):
        start = time.perf_counter()
        base(batch)
        rates.append(32 / (time.perf_counter() - start))
print(f"forward/mixed7_150_b32 (torch channels_last): {statistics.median(rates):.1f} img/s")
