"""The M/M/1 model of `benches/engine.rs` (mm1/requests) written in SimPy.

Usage: python benches/simpy_mm1.py [horizon_seconds]
Prints customers simulated per second of wall time. Same parameters as the
Rust benchmark: arrivals 800/s, exponential service with mean 1 ms, one
server, FIFO; response time recorded per customer.
"""
import random
import sys
import time

import simpy

LAMBDA = 800.0
MEAN_SERVICE = 0.001


def source(env, server, rng, latencies):
    while True:
        yield env.timeout(rng.expovariate(LAMBDA))
        env.process(customer(env, server, rng, latencies))


def customer(env, server, rng, latencies):
    arrived = env.now
    with server.request() as req:
        yield req
        yield env.timeout(rng.expovariate(1.0 / MEAN_SERVICE))
    latencies.append(env.now - arrived)


def main():
    horizon = float(sys.argv[1]) if len(sys.argv) > 1 else 200.0
    rng = random.Random(1)
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    latencies = []
    env.process(source(env, server, rng, latencies))
    t0 = time.perf_counter()
    env.run(until=horizon)
    wall = time.perf_counter() - t0
    n = len(latencies)
    print(f"simpy {simpy.__version__}: {n} customers in {wall:.3f} s = {n / wall:,.0f} customers/s; "
          f"mean response {1000 * sum(latencies) / n:.3f} ms (theory {1000 / (1 / MEAN_SERVICE - LAMBDA):.3f} ms)")


if __name__ == "__main__":
    main()
