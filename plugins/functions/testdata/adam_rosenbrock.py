# PyTorch's Adam on Rosenbrock, (1 - x)^2 + 100 (y - x^2)^2, from a float32
# point: prints the point after each step as JSON. The function and its
# gradient are evaluated in float64 from the float32 point and the gradient
# rounded to float32, as gradsweep's function loss does; the Adam update is
# torch's, in float32.
import json, sys
import torch

start = [float(sys.argv[1]), float(sys.argv[2])]
lr, steps = float(sys.argv[3]), int(sys.argv[4])
p = torch.tensor(start, dtype=torch.float32, requires_grad=True)
opt = torch.optim.Adam([p], lr=lr)
path = []
for _ in range(steps):
    opt.zero_grad()
    x, y = p.double()[0], p.double()[1]
    loss = (1 - x) ** 2 + 100 * (y - x * x) ** 2
    loss.backward()
    opt.step()
    path.append([float(v) for v in p.detach()])
print(json.dumps(path))
