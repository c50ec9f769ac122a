"""The broad package set: popular binary-wheel packages, each with a snippet of real work.

Every snippet runs as its own script, in a fresh empty working folder, with the interpreter
under test (first the source venv, then the export in a bare Debian root). A snippet passes
when it exits 0; it asserts on results, so importing alone does not pass. Snippets use only
their own package, its dependencies and the standard library.

Some packages are chosen for their optional parts, which neither the source venv nor the
export can load and which a verifier must therefore not hold against the export:
numba's TBB threading layer (``tbbpool*.so`` needs ``libtbb.so.12``), duckdb's
``adbc_driver_duckdb`` (needs the absent ``adbc_driver_manager``) and black's ``blackd``
(needs the absent ``aiohttp``; its native dependencies multidict, yarl and propcache are
installed through ``yarl``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

SELECT_ENV = "HEAVY_PACKAGES"


@dataclass(frozen=True)
class Package:
    """One package of the set: what to install and what work proves it runs."""

    name: str  # the key used by HEAVY_PACKAGES
    requirement: str  # pinned; every pin has a cp312 manylinux wheel
    stack: str
    snippet: str
    optional: str = ""  # optional native backends or extras that stay unloadable
    needs: tuple[str, ...] = ()  # other packages of the set that the snippet uses


def _pkg(
    name: str,
    requirement: str,
    stack: str,
    snippet: str,
    optional: str = "",
    needs: tuple[str, ...] = (),
) -> Package:
    return Package(name, requirement, stack, snippet.strip() + "\n", optional, needs)


PACKAGES: tuple[Package, ...] = (
    # --- scientific -------------------------------------------------------------------------
    _pkg(
        "numpy",
        "numpy==2.5.5",
        "scientific",
        """
import numpy as np
a = np.arange(12, dtype=np.float64).reshape(3, 4)
assert a.sum() == 66
m = np.array([[2.0, 1.0], [1.0, 3.0]])
assert np.allclose(np.linalg.inv(m) @ m, np.eye(2))
f = np.fft.rfft(np.sin(np.linspace(0, 2 * np.pi * 5, 64, endpoint=False)))
assert int(np.argmax(np.abs(f))) == 5
rng = np.random.default_rng(42)
assert rng.integers(0, 10, size=1000).max() == 9
""",
    ),
    _pkg(
        "scipy",
        "scipy==1.18.1",
        "scientific",
        """
import numpy as np
from scipy import integrate, linalg, optimize, sparse, stats
from scipy.sparse.linalg import spsolve
val, _ = integrate.quad(lambda x: x**2, 0, 3)
assert abs(val - 9) < 1e-9
res = optimize.minimize(lambda v: (v[0] - 1) ** 2 + (v[1] + 2) ** 2, [0.0, 0.0])
assert np.allclose(res.x, [1, -2], atol=1e-4)
m = sparse.csr_matrix(np.array([[4.0, 1.0], [1.0, 3.0]]))
assert np.allclose(m @ spsolve(m, np.array([1.0, 2.0])), [1, 2])
assert np.allclose(linalg.expm(np.zeros((2, 2))), np.eye(2))
assert abs(stats.norm.cdf(0) - 0.5) < 1e-12
""",
    ),
    _pkg(
        "pandas",
        "pandas==3.1.1",
        "dataframe",
        """
import pandas as pd
df = pd.DataFrame({"k": ["a", "b", "a", "c"], "v": [1, 2, 3, 4]})
assert df.groupby("k")["v"].sum().to_dict() == {"a": 4, "b": 2, "c": 4}
df.to_csv("t.csv", index=False)
assert pd.read_csv("t.csv").equals(df)
ts = pd.date_range("2024-01-01", periods=3, freq="D", tz="Europe/Paris")
assert str(ts[0].tz) == "Europe/Paris" and ts[0].utcoffset().total_seconds() == 3600
""",
    ),
    _pkg(
        "scikit-learn",
        "scikit-learn==1.9.1",
        "ML",
        """
from sklearn.cluster import KMeans
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True)
assert LogisticRegression(max_iter=500).fit(X, y).score(X, y) > 0.9
rf = RandomForestClassifier(n_estimators=10, random_state=0, n_jobs=2).fit(X, y)
assert rf.score(X, y) > 0.9
km = KMeans(n_clusters=3, n_init=2, random_state=0).fit(X)
assert len(set(km.labels_)) == 3
""",
    ),
    _pkg(
        "matplotlib",
        "matplotlib==3.11.2",
        "scientific",
        """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import font_manager
fig, ax = plt.subplots()
ax.plot([0, 1, 2], [0, 1, 4])
ax.set_title("h\\u00e9llo")
fig.savefig("p.png", dpi=50)
fig.savefig("p.pdf")
with open("p.png", "rb") as f:
    data = f.read()
assert data[:8] == b"\\x89PNG\\r\\n\\x1a\\n" and len(data) > 1000
with open("p.pdf", "rb") as f:
    assert f.read(5) == b"%PDF-"
assert font_manager.findfont("DejaVu Sans", fallback_to_default=False)
""",
    ),
    _pkg(
        "numba",
        "numba==0.68.1",
        "scientific",
        """
import numba
import numpy as np
from numba import njit, prange

@njit(parallel=True)
def doubled_sum(a):
    s = 0.0
    for i in prange(a.shape[0]):
        s += a[i] * 2
    return s

@njit
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

assert doubled_sum(np.arange(1000.0)) == 999000.0
assert fib(20) == 6765
print("threading layer:", numba.threading_layer())
""",
        optional="TBB threading layer: numba/np/ufunc/tbbpool*.so needs libtbb.so.12",
    ),
    _pkg(
        "sympy",
        "sympy==1.14.0",
        "scientific",
        """
import sympy as sp
x = sp.symbols("x")
assert sp.integrate(sp.sin(x) ** 2, (x, 0, sp.pi)) == sp.pi / 2
assert sp.factor(x**2 - 1) == (x - 1) * (x + 1)
assert sp.solve(x**2 - 4, x) == [-2, 2]
""",
    ),
    _pkg(
        "statsmodels",
        "statsmodels==0.15.0",
        "scientific",
        """
import numpy as np
import statsmodels.api as sm
rng = np.random.default_rng(0)
x = rng.normal(size=200)
y = 3 * x + 1 + rng.normal(scale=0.1, size=200)
fit = sm.OLS(y, sm.add_constant(x)).fit()
assert abs(fit.params[1] - 3) < 0.05 and abs(fit.params[0] - 1) < 0.05
""",
    ),
    _pkg(
        "h5py",
        "h5py==3.16.0",
        "scientific",
        """
import h5py
import numpy as np
with h5py.File("d.h5", "w") as f:
    f.create_dataset("x", data=np.arange(10), compression="gzip")
    f.attrs["note"] = "h\\u00e9"
with h5py.File("d.h5") as f:
    assert f["x"][()].sum() == 45
    assert f["x"].compression == "gzip"
    assert f.attrs["note"] == "h\\u00e9"
""",
    ),
    _pkg(
        "numexpr",
        "numexpr==2.14.2",
        "scientific",
        """
import numexpr as ne
import numpy as np
a = np.arange(1e5)
assert np.allclose(ne.evaluate("2*a + sin(a)**2"), 2 * a + np.sin(a) ** 2)
""",
    ),
    _pkg(
        "pywavelets",
        "pywavelets==1.10.0",
        "scientific",
        """
import numpy as np
import pywt
cA, cD = pywt.dwt(np.arange(8.0), "haar")
assert np.allclose(pywt.idwt(cA, cD, "haar"), np.arange(8.0))
coeffs = pywt.wavedec2(np.ones((16, 16)), "db2", level=2)
assert np.allclose(pywt.waverec2(coeffs, "db2"), np.ones((16, 16)))
""",
    ),
    # --- dataframe --------------------------------------------------------------------------
    _pkg(
        "pyarrow",
        "pyarrow==26.0.1",
        "dataframe",
        """
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.feather as feather
import pyarrow.parquet as pq
t = pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]})
pq.write_table(t, "t.parquet", compression="zstd")
assert pq.read_table("t.parquet").equals(t)
assert pc.sum(t["a"]).as_py() == 6
feather.write_feather(t, "t.feather", compression="lz4")
assert feather.read_table("t.feather").equals(t)
assert ds.dataset("t.parquet").to_table(filter=ds.field("a") > 1).num_rows == 2
""",
    ),
    _pkg(
        "polars",
        "polars==2.1.0",
        "dataframe",
        """
import polars as pl
df = pl.DataFrame({"k": ["a", "b", "a"], "v": [1, 2, 3]})
out = df.group_by("k").agg(pl.col("v").sum()).sort("k")
assert out["v"].to_list() == [4, 2]
df.write_parquet("p.parquet")
assert pl.read_parquet("p.parquet").equals(df)
assert pl.scan_parquet("p.parquet").filter(pl.col("v") > 1).collect().height == 2
""",
    ),
    _pkg(
        "duckdb",
        "duckdb==2.0.1",
        "dataframe",
        """
import duckdb
con = duckdb.connect("db.duckdb")
con.execute("create table t as select range as i from range(100)")
assert con.execute("select sum(i) from t").fetchone()[0] == 4950
con.execute("copy t to 't.parquet' (format parquet)")
assert duckdb.sql("select count(*) from 't.parquet'").fetchall() == [(100,)]
con.close()
""",
        optional="adbc_driver_duckdb needs the absent adbc_driver_manager",
    ),
    # --- ML ---------------------------------------------------------------------------------
    _pkg(
        "lightgbm",
        "lightgbm==4.7.0",
        "ML",
        """
import lightgbm as lgb
import numpy as np
rng = np.random.default_rng(0)
X = rng.normal(size=(300, 4))
y = (X[:, 0] + X[:, 1] > 0).astype(int)
params = {"objective": "binary", "verbose": -1, "num_threads": 2}
booster = lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=20)
assert ((booster.predict(X) > 0.5) == y).mean() > 0.9
""",
    ),
    _pkg(
        "xgboost",
        "xgboost-cpu==3.4.1",
        "ML",
        """
import numpy as np
import xgboost as xgb
rng = np.random.default_rng(0)
X = rng.normal(size=(300, 4))
y = (X[:, 0] - X[:, 2] > 0).astype(int)
d = xgb.DMatrix(X, label=y)
booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 2}, d, 20)
assert ((booster.predict(d) > 0.5) == y).mean() > 0.9
""",
    ),
    _pkg(
        "onnx",
        "onnx==1.23.2",
        "ML",
        """
import onnx
from onnx import TensorProto, helper
io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [3]) for n in "abc"]
graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["c"])], "g", io[:2], io[2:])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
onnx.checker.check_model(model, full_check=True)
onnx.save(model, "m.onnx")
assert onnx.load("m.onnx").graph.node[0].op_type == "Add"
""",
    ),
    _pkg(
        "onnxruntime",
        "onnxruntime==1.32.0",
        "ML",
        """
import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper
io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [3]) for n in "abc"]
graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["c"])], "g", io[:2], io[2:])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 9
sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
a = np.array([1, 2, 3], dtype=np.float32)
(c,) = sess.run(None, {"a": a, "b": a})
assert c.tolist() == [2.0, 4.0, 6.0]
""",
        needs=("onnx",),
    ),
    _pkg(
        "tokenizers",
        "tokenizers==0.23.3",
        "ML",
        """
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
tok = Tokenizer(models.BPE(unk_token="[UNK]"))
tok.pre_tokenizer = pre_tokenizers.Whitespace()
corpus = ["hello world", "hello there", "world peace"] * 50
tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=60, special_tokens=["[UNK]"]))
enc = tok.encode("hello world")
assert tok.decode(enc.ids).replace(" ", "") == "helloworld"
tok.save("t.json")
assert Tokenizer.from_file("t.json").encode("hello").ids == tok.encode("hello").ids
""",
    ),
    _pkg(
        "safetensors",
        "safetensors==0.8.0",
        "ML",
        """
import numpy as np
from safetensors.numpy import load_file, save_file
save_file({"w": np.arange(6, dtype=np.float32).reshape(2, 3)}, "w.safetensors")
assert load_file("w.safetensors")["w"].sum() == 15
""",
    ),
    # --- web --------------------------------------------------------------------------------
    _pkg(
        "black",
        "black==26.10.1",
        "CLI",
        """
import os
import subprocess
import sys
import black
out = black.format_str("x = {  'a':37,'b':42}\\n", mode=black.Mode())
assert out == 'x = {"a": 37, "b": 42}\\n', out
with open("f.py", "w") as f:
    f.write("y=1\\n")
script = os.path.join(os.path.dirname(sys.executable), "black")
subprocess.run([script, "-q", "f.py"], check=True)
with open("f.py") as f:
    assert f.read() == "y = 1\\n"
""",
        optional="blackd needs the absent aiohttp",
    ),
    _pkg(
        "fastapi",
        "fastapi==0.165.0",
        "web",
        """
import asyncio
import json
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError

class Item(BaseModel):
    name: str
    price: float

assert Item.model_validate_json('{"name": "a", "price": "1.5"}').price == 1.5
try:
    Item(name="x", price="nope")
except ValidationError as exc:
    assert "price" in str(exc)
else:
    raise AssertionError("no validation error")

app = FastAPI()

@app.get("/items/{i}")
def get_item(i: int) -> Item:
    return Item(name=f"n{i}", price=i)

assert "/items/{i}" in app.openapi()["paths"]

async def call(path):
    sent = []
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(message):
        sent.append(message)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"t")], "client": ("t", 1), "server": ("t", 80),
    }
    await app(scope, receive, send)
    return sent

sent = asyncio.run(call("/items/3"))
assert sent[0]["status"] == 200, sent
assert json.loads(sent[1]["body"]) == {"name": "n3", "price": 3.0}
""",
    ),
    _pkg(
        "uvicorn",
        "uvicorn==0.54.0",
        "web",
        """
import asyncio
import socket
import uvicorn
import uvloop

async def app(scope, receive, send):
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"pong"})

sock = socket.socket()
sock.bind(("127.0.0.1", 0))
port = sock.getsockname()[1]
server = uvicorn.Server(uvicorn.Config(app, http="httptools", lifespan="off", log_level="warning"))

async def main():
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.05)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
    await writer.drain()
    data = await reader.read()
    server.should_exit = True
    await task
    return data

data = uvloop.run(main())
assert data.startswith(b"HTTP/1.1 200") and b"\\r\\npong\\r\\n" in data, data
""",
        needs=("uvloop", "httptools"),
    ),
    _pkg(
        "uvloop",
        "uvloop==0.23.0",
        "web",
        """
import asyncio
import uvloop

async def main():
    async def echo(reader, writer):
        writer.write(await reader.read(100))
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"ping")
    writer.write_eof()
    data = await reader.read()
    server.close()
    await server.wait_closed()
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
    return data

assert uvloop.run(main()) == b"ping"
""",
    ),
    _pkg(
        "httptools",
        "httptools==0.9.0",
        "web",
        """
import httptools

class Proto:
    url = b""
    done = False
    headers = ()
    def on_url(self, url):
        self.url += url
    def on_header(self, name, value):
        self.headers += ((name, value),)
    def on_message_complete(self):
        self.done = True

p = Proto()
parser = httptools.HttpRequestParser(p)
parser.feed_data(b"GET /a?b=1 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
assert p.done and p.url == b"/a?b=1" and parser.get_method() == b"GET"
assert p.headers == ((b"Host", b"x"),)
assert httptools.parse_url(p.url).query == b"b=1"
""",
    ),
    _pkg(
        "orjson",
        "orjson==3.13.0",
        "web",
        """
import datetime
import numpy as np
import orjson
s = orjson.dumps(
    {"a": np.arange(3), "t": datetime.date(2024, 1, 2)}, option=orjson.OPT_SERIALIZE_NUMPY
)
assert s == b'{"a":[0,1,2],"t":"2024-01-02"}', s
assert orjson.loads(s)["a"] == [0, 1, 2]
""",
        needs=("numpy",),
    ),
    _pkg(
        "ujson",
        "ujson==6.1.0",
        "web",
        """
import ujson
value = {"a": [1, 2.5, "\\u00e9", None, True]}
assert ujson.loads(ujson.dumps(value)) == value
assert ujson.dumps({"b": 1, "a": 2}, sort_keys=True) == '{"a":2,"b":1}'
""",
    ),
    _pkg(
        "yarl",
        "yarl==1.25.1",
        "web",
        """
import multidict._multidict
import propcache._helpers_c
import yarl._quoting_c
from multidict import MultiDict
from yarl import URL
u = URL("https://user@example.com:8080/a/b?x=1&x=2")
assert u.port == 8080 and u.query.getall("x") == ["1", "2"]
assert str(u.with_path("/c").with_query({"y": "\\u00e9"})) == "https://user@example.com:8080/c?y=%C3%A9"
md = MultiDict([("a", 1), ("a", 2)])
assert md.getall("a") == [1, 2]
""",
    ),
    # --- crypto -----------------------------------------------------------------------------
    _pkg(
        "cryptography",
        "cryptography==50.0.2",
        "crypto",
        """
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
f = Fernet(Fernet.generate_key())
assert f.decrypt(f.encrypt(b"secret")) == b"secret"
sk = ed25519.Ed25519PrivateKey.generate()
sk.public_key().verify(sk.sign(b"m"), b"m")
rk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
assert rk.decrypt(rk.public_key().encrypt(b"x", oaep), oaep) == b"x"
""",
    ),
    _pkg(
        "bcrypt",
        "bcrypt==5.0.0",
        "crypto",
        """
import bcrypt
h = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4))
assert bcrypt.checkpw(b"pw", h) and not bcrypt.checkpw(b"no", h)
""",
    ),
    _pkg(
        "pynacl",
        "pynacl==1.6.2",
        "crypto",
        """
import nacl.secret
import nacl.signing
import nacl.utils
box = nacl.secret.SecretBox(nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE))
assert box.decrypt(box.encrypt(b"secret")) == b"secret"
key = nacl.signing.SigningKey.generate()
assert key.verify_key.verify(key.sign(b"m")) == b"m"
""",
    ),
    _pkg(
        "argon2-cffi",
        "argon2-cffi==25.1.0",
        "crypto",
        """
from argon2 import PasswordHasher
ph = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
h = ph.hash("pw")
assert h.startswith("$argon2id$") and ph.verify(h, "pw")
""",
    ),
    _pkg(
        "pycryptodome",
        "pycryptodome==4.4.0",
        "crypto",
        """
from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.Random import get_random_bytes
key = get_random_bytes(16)
enc = AES.new(key, AES.MODE_GCM)
ct, tag = enc.encrypt_and_digest(b"hello")
dec = AES.new(key, AES.MODE_GCM, nonce=enc.nonce)
assert dec.decrypt_and_verify(ct, tag) == b"hello"
assert SHA256.new(b"abc").hexdigest().startswith("ba7816bf")
""",
    ),
    # --- database drivers -------------------------------------------------------------------
    _pkg(
        "psycopg",
        "psycopg[binary]==3.3.9",
        "database",
        """
import psycopg
from psycopg import pq
assert pq.__impl__ == "binary", pq.__impl__
assert pq.version() >= 120000
assert "port=5433" in psycopg.conninfo.make_conninfo("host=a", port=5433)
try:
    psycopg.connect("host=/nonexistent-socket-dir dbname=x connect_timeout=2")
except psycopg.OperationalError as exc:
    assert "nonexistent-socket-dir" in str(exc), exc
else:
    raise AssertionError("connected to nothing")
""",
    ),
    _pkg(
        "asyncpg",
        "asyncpg==0.32.0",
        "database",
        """
import asyncio
import asyncpg
import asyncpg.pgproto.pgproto
import asyncpg.protocol.protocol
assert asyncpg.types.Range(1, 5).upper == 5

async def main():
    try:
        await asyncpg.connect(host="127.0.0.1", port=1, user="u", database="d", timeout=5)
    except OSError:
        return True
    return False

assert asyncio.run(main())
""",
    ),
    _pkg(
        "pymysql",
        "pymysql==1.2.4",
        "database",
        """
import pymysql
from pymysql.converters import escape_string
assert escape_string("a'b") == "a\\\\'b"
try:
    pymysql.connect(host="127.0.0.1", port=1, user="u", connect_timeout=2)
except pymysql.err.OperationalError as exc:
    assert exc.args[0] == 2003, exc
else:
    raise AssertionError("connected to nothing")
""",
    ),
    _pkg(
        "oracledb",
        "oracledb==26.1.0",
        "database",
        """
import oracledb
import oracledb.thin_impl
assert oracledb.is_thin_mode()
dsn = oracledb.makedsn("db.example", 1521, service_name="svc")
assert "db.example" in dsn and "svc" in dsn
p = oracledb.ConnectParams(host="h", port=1522, service_name="s")
assert p.port == 1522
""",
    ),
    _pkg(
        "sqlalchemy",
        "sqlalchemy==2.1.9",
        "database",
        """
from sqlalchemy import String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

class Base(DeclarativeBase):
    pass

class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30))

engine = create_engine("sqlite:///db.sqlite")
Base.metadata.create_all(engine)
with Session(engine) as s:
    s.add_all([User(name="a"), User(name="b")])
    s.commit()
    assert s.scalars(select(User.name).order_by(User.name)).all() == ["a", "b"]
""",
    ),
    _pkg(
        "lxml",
        "lxml==6.1.3",
        "parsing",
        """
from lxml import etree, html
root = etree.fromstring(b"<r><a x='1'>t</a><a x='2'/></r>")
assert root.xpath("sum(//a/@x)") == 3.0
xsl = etree.XML(
    b'<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
    b'<xsl:template match="/"><out><xsl:value-of select="count(//a)"/></out></xsl:template>'
    b"</xsl:stylesheet>"
)
assert etree.XSLT(xsl)(root).getroot().text == "2"
assert html.fromstring("<p>Hi <b>there</b></p>").text_content() == "Hi there"
""",
    ),
    # --- geo --------------------------------------------------------------------------------
    _pkg(
        "shapely",
        "shapely==2.2.0",
        "geo",
        """
from shapely import wkt
from shapely.geometry import Point, Polygon
assert abs(Point(0, 0).buffer(1).area - 3.1365) < 0.01
a = Polygon([(0, 0), (2, 0), (2, 2), (0, 2)])
b = Polygon([(1, 1), (3, 1), (3, 3), (1, 3)])
assert a.intersection(b).area == 1.0
assert wkt.loads(wkt.dumps(a)).equals(a)
""",
    ),
    _pkg(
        "pyproj",
        "pyproj==3.8.0",
        "geo",
        """
import os
import pyproj
from pyproj import CRS, Transformer
x, y = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(2.35, 48.85)
assert abs(x - 261600) < 1000 and abs(y - 6250000) < 20000, (x, y)
assert CRS.from_epsg(32631).name == "WGS 84 / UTM zone 31N"
data_dir = pyproj.datadir.get_data_dir()
assert data_dir.startswith(os.path.dirname(pyproj.__file__)), data_dir
""",
    ),
    _pkg(
        "rasterio",
        "rasterio==1.5.2",
        "geo",
        """
import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.warp import transform
data = np.arange(100, dtype="uint8").reshape(10, 10)
profile = dict(driver="GTiff", height=10, width=10, count=1, dtype="uint8", crs="EPSG:4326",
               transform=from_origin(0, 10, 1, 1), compress="deflate")
with rasterio.open("r.tif", "w", **profile) as dst:
    dst.write(data, 1)
with rasterio.open("r.tif") as src:
    assert src.crs.to_epsg() == 4326 and (src.read(1) == data).all()
xs, ys = transform("EPSG:4326", "EPSG:3857", [2.35], [48.85])
assert abs(xs[0] - 261600) < 1000, xs
""",
    ),
    # --- images and audio -------------------------------------------------------------------
    _pkg(
        "pillow",
        "pillow==13.0.0",
        "images",
        """
from PIL import Image, ImageDraw, ImageFont, features
im = Image.new("RGB", (64, 48), "white")
ImageDraw.Draw(im).rectangle([8, 8, 40, 30], fill="red")
small = im.resize((32, 24), Image.Resampling.LANCZOS)
for fmt in ("PNG", "JPEG", "WEBP", "TIFF"):
    name = "i." + fmt.lower()
    small.save(name, fmt)
    with Image.open(name) as back:
        assert back.size == (32, 24) and back.format == fmt
assert features.check("webp") and features.check("jpg") and features.check("freetype2")
assert ImageFont.load_default(size=12).getbbox("x")
""",
    ),
    _pkg(
        "opencv",
        "opencv-python-headless==5.0.0.93",
        "images",
        """
import cv2
import numpy as np
img = np.zeros((100, 100, 3), np.uint8)
cv2.circle(img, (50, 50), 20, (255, 255, 255), -1)
gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
small = cv2.resize(gray, (50, 50), interpolation=cv2.INTER_AREA)
for ext in (".png", ".jpg"):
    ok, buf = cv2.imencode(ext, small)
    assert ok
    assert cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE).shape == (50, 50)
contours, _ = cv2.findContours((small > 127).astype(np.uint8), cv2.RETR_EXTERNAL,
                               cv2.CHAIN_APPROX_SIMPLE)
assert len(contours) == 1
""",
    ),
    _pkg(
        "soundfile",
        "soundfile==0.14.0",
        "audio",
        """
import numpy as np
import soundfile as sf
x = (0.5 * np.sin(np.linspace(0, 100, 8000))).astype("float32")
for ext in ("wav", "flac", "ogg"):
    sf.write("a." + ext, x, 8000)
    y, sr = sf.read("a." + ext, dtype="float32")
    assert sr == 8000 and abs(len(y) - 8000) < 100, (ext, sr, len(y))
y, _ = sf.read("a.wav", dtype="float32")
assert np.allclose(y, x, atol=1e-3)
""",
    ),
    # --- CLI --------------------------------------------------------------------------------
    _pkg(
        "rich",
        "rich==15.0.0",
        "CLI",
        """
from rich.console import Console
from rich.table import Table
table = Table("name", "value")
table.add_row("pi", "3.14")
console = Console(record=True, width=40, force_terminal=True)
console.print(table)
text = console.export_text()
assert "pi" in text and "3.14" in text
""",
    ),
    _pkg(
        "ruff",
        "ruff==0.17.6",
        "CLI",
        """
import subprocess
from ruff.__main__ import find_ruff_bin
with open("m.py", "w") as f:
    f.write("import os\\n")
p = subprocess.run([find_ruff_bin(), "check", "--no-cache", "--select", "F401", "m.py"],
                   capture_output=True, text=True)
assert p.returncode == 1 and "F401" in p.stdout, (p.returncode, p.stdout, p.stderr)
""",
    ),
    # --- native libraries vendored in *.libs ------------------------------------------------
    _pkg(
        "pyzmq",
        "pyzmq==27.3.0",
        "messaging",
        """
import zmq
ctx = zmq.Context()
a = ctx.socket(zmq.PAIR)
port = a.bind_to_random_port("tcp://127.0.0.1")
b = ctx.socket(zmq.PAIR)
b.connect(f"tcp://127.0.0.1:{port}")
b.send(b"hi")
assert a.recv() == b"hi"
a.close()
b.close()
ctx.term()
assert zmq.zmq_version_info() >= (4,)
""",
    ),
    _pkg(
        "pycurl",
        "pycurl==7.49.0",
        "web",
        """
import io
import os
import pycurl
with open("f.txt", "w") as f:
    f.write("hello")
buf = io.BytesIO()
c = pycurl.Curl()
c.setopt(c.URL, "file://" + os.path.abspath("f.txt"))
c.setopt(c.WRITEDATA, buf)
c.perform()
c.close()
assert buf.getvalue() == b"hello"
assert "libcurl" in pycurl.version, pycurl.version
""",
    ),
    _pkg(
        "grpcio",
        "grpcio==1.85.3",
        "messaging",
        """
from concurrent import futures
import grpc
server = grpc.server(futures.ThreadPoolExecutor(2))
handler = grpc.unary_unary_rpc_method_handler(lambda req, ctx: req[::-1])
server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.S", {"Rev": handler}),))
port = server.add_insecure_port("127.0.0.1:0")
server.start()
with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
    assert channel.unary_unary("/t.S/Rev")(b"abc", timeout=10) == b"cba"
server.stop(None)
""",
    ),
    _pkg(
        "protobuf",
        "protobuf==7.36.2",
        "messaging",
        """
from google.protobuf import struct_pb2
from google.protobuf.internal import api_implementation
assert api_implementation.Type() == "upb", api_implementation.Type()
s = struct_pb2.Struct()
s.update({"a": 1, "b": "x"})
back = struct_pb2.Struct.FromString(s.SerializeToString())
assert back["a"] == 1 and back["b"] == "x"
""",
    ),
    _pkg(
        "msgpack",
        "msgpack==1.2.4",
        "serialization",
        """
import msgpack
from msgpack import _cmsgpack
value = {"a": [1, 2, {"b": b"\\x00"}]}
assert msgpack.unpackb(msgpack.packb(value)) == value
assert msgpack.Packer is _cmsgpack.Packer
""",
    ),
    _pkg(
        "pyyaml",
        "pyyaml==6.0.4",
        "serialization",
        """
import yaml
text = yaml.dump({"a": [1, 2], "b": "x"}, Dumper=yaml.CSafeDumper)
assert yaml.load(text, Loader=yaml.CSafeLoader) == {"a": [1, 2], "b": "x"}
""",
    ),
    _pkg(
        "zstandard",
        "zstandard==0.25.0",
        "compression",
        """
import zstandard
assert zstandard.backend == "cext", zstandard.backend
data = b"abc" * 10000
packed = zstandard.ZstdCompressor(level=3, threads=2).compress(data)
assert len(packed) < 200 and zstandard.ZstdDecompressor().decompress(packed) == data
""",
    ),
    _pkg(
        "lz4",
        "lz4==4.4.5",
        "compression",
        """
import lz4.block
import lz4.frame
data = b"xyz" * 10000
assert lz4.frame.decompress(lz4.frame.compress(data)) == data
assert lz4.block.decompress(lz4.block.compress(data)) == data
""",
    ),
    _pkg(
        "brotli",
        "brotli==1.2.1",
        "compression",
        """
import brotli
data = b"hello brotli " * 1000
packed = brotli.compress(data, quality=5)
assert len(packed) < 100 and brotli.decompress(packed) == data
""",
    ),
    _pkg(
        "regex",
        "regex==2026.11.19",
        "text",
        """
import regex
assert regex.findall(r"\\p{Greek}+", "abc \\u03b1\\u03b2\\u03b3 def") == ["\\u03b1\\u03b2\\u03b3"]
assert regex.fullmatch(r"(?<word>\\w+)-(?&word)", "ab-cd")
""",
    ),
    _pkg(
        "markupsafe",
        "markupsafe==3.0.4",
        "text",
        """
import markupsafe
from markupsafe import _speedups
assert markupsafe.escape("<a href='x'>") == "&lt;a href=&#39;x&#39;&gt;"
assert markupsafe._escape_inner is _speedups._escape_inner
""",
    ),
    _pkg(
        "psutil",
        "psutil==7.2.2",
        "system",
        """
import os
import psutil
p = psutil.Process(os.getpid())
assert p.memory_info().rss > 0 and p.pid == os.getpid()
assert psutil.cpu_count() >= 1 and psutil.virtual_memory().total > 0
""",
    ),
    _pkg(
        "greenlet",
        "greenlet==3.5.6",
        "system",
        """
import greenlet
seen = []
def child(x):
    seen.append(x)
    y = main.switch(x + 1)
    seen.append(y)
main = greenlet.getcurrent()
g = greenlet.greenlet(child)
assert g.switch(1) == 2
g.switch(10)
assert seen == [1, 10] and g.dead
""",
    ),
)

assert len({p.name for p in PACKAGES}) == len(PACKAGES), "package names must be unique"


def selected() -> tuple[Package, ...]:
    """The packages named in HEAVY_PACKAGES (comma-separated), or all of them."""
    wanted = [n.strip() for n in os.environ.get(SELECT_ENV, "").split(",") if n.strip()]
    if not wanted:
        return PACKAGES
    known = {p.name: p for p in PACKAGES}
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise ValueError(f"{SELECT_ENV} names unknown packages: {', '.join(unknown)}")
    closure = dict.fromkeys(wanted)
    for name in wanted:
        closure.update(dict.fromkeys(known[name].needs))
    return tuple(known[n] for n in closure)
