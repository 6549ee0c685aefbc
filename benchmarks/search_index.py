"""Which vector index for `podcast-brief search`: `python -m benchmarks.search_index [--n 100000]`.

100,000 synthetic unit vectors of MiniLM's 384 dimensions, grouped around 2,000 topics like real insights (a
uniform random cloud would make every index look bad), 200 queries near stored items. For exact search
(numpy float32 matrix product), hnswlib, usearch and faiss HNSW: build time, recall@10 against exact, median
query time, serialized size; and BM25 (bm25s) build and query time on 100,000 synthetic texts. Prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

DIM, K, QUERIES = 384, 10, 200


def _vectors(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    centers = rng.standard_normal((2000, DIM)).astype(np.float32)
    data = centers[rng.integers(0, 2000, n)] + 0.8 * rng.standard_normal((n, DIM)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    queries = data[rng.integers(0, n, QUERIES)] + 0.05 * rng.standard_normal((QUERIES, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return data, queries


def _exact(data: np.ndarray, query: np.ndarray) -> np.ndarray:
    scores = data @ query
    top = np.argpartition(-scores, K)[:K]
    return top[np.argsort(-scores[top])]


def _timed_queries(search, queries: np.ndarray) -> tuple[list[np.ndarray], float]:
    results, times = [], []
    for query in queries:
        start = time.perf_counter()
        results.append(np.asarray(search(query)))
        times.append(time.perf_counter() - start)
    return results, float(np.median(times) * 1000)


def _file_size(save) -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "index")
        save(path)
        return os.path.getsize(path)


def _hnswlib(data):
    import hnswlib

    index = hnswlib.Index(space="ip", dim=DIM)
    index.init_index(max_elements=len(data), ef_construction=200, M=16)
    index.add_items(data)
    index.set_ef(64)
    return lambda q: index.knn_query(q, k=K)[0][0], lambda p: index.save_index(p)


def _usearch(data):
    from usearch.index import Index

    index = Index(ndim=DIM, metric="ip", dtype="f32", connectivity=16, expansion_add=200, expansion_search=64)
    index.add(np.arange(len(data)), data)
    return lambda q: index.search(q, K).keys, lambda p: index.save(p)


def _faiss(data):
    import faiss

    index = faiss.IndexHNSWFlat(DIM, 16, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 200
    index.add(data)
    index.hnsw.efSearch = 64
    return lambda q: index.search(q[None, :], K)[1][0], lambda p: faiss.write_index(index, p)


def _bm25_row(n: int, rng: np.random.Generator) -> str:
    import bm25s

    vocabulary = [f"w{i}" for i in range(20000)]
    texts = [" ".join(rng.choice(vocabulary, 25)) for _ in range(n)]
    start = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, show_progress=False), show_progress=False)
    build = time.perf_counter() - start
    times = []
    for query in texts[:QUERIES]:
        start = time.perf_counter()
        retriever.retrieve(bm25s.tokenize([query[:40]], show_progress=False), k=K, show_progress=False)
        times.append(time.perf_counter() - start)
    return f"| BM25 (bm25s), {n:,} texts of 25 words | {build:.1f} s | n/a | {np.median(times) * 1000:.2f} ms | n/a |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    n = parser.parse_args().n
    rng = np.random.default_rng(7)
    data, queries = _vectors(n, rng)
    truth, exact_ms = _timed_queries(lambda q: _exact(data, q), queries)
    print(f"{n:,} vectors x {DIM} float32, {QUERIES} queries, k={K}, HNSW M=16 ef_construction=200 ef_search=64\n")
    print("| index | build | recall@10 vs exact | median query | size |")
    print("|---|---|---|---|---|")
    print(f"| exact (numpy matrix product) | 0 s | 1.000 | {exact_ms:.2f} ms | {data.nbytes / 2**20:.0f} MiB |")
    for name, build in (("hnswlib 0.8", _hnswlib), ("usearch 2.26", _usearch), ("faiss-cpu HNSWFlat", _faiss)):
        start = time.perf_counter()
        search, save = build(data)
        build_s = time.perf_counter() - start
        found, ms = _timed_queries(search, queries)
        recall = np.mean([len(set(f.tolist()) & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)])
        size = _file_size(save) / 2**20
        print(f"| {name} | {build_s:.1f} s | {recall:.3f} | {ms:.2f} ms | {size:.0f} MiB |")
    print(_bm25_row(n, rng))


if __name__ == "__main__":
    main()
