import os
from typing import Any, Optional, Sequence, Union

import numpy as np

from ._zkgrad import Error as Error, InvalidProof as InvalidProof

class Proof:
    statement: str
    commitment: Optional[str]
    prove_seconds: Optional[float]
    library_seconds: float
    def __init__(self, data: bytes, output: Optional[np.ndarray] = ..., commitment: Optional[str] = ...,
                 prove_seconds: Optional[float] = ...) -> None: ...
    @property
    def output(self) -> np.ndarray: ...
    def to_bytes(self) -> bytes: ...
    def save(self, path: Union[str, os.PathLike]) -> None: ...
    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> Proof: ...

class Verified:
    input: np.ndarray
    output: np.ndarray
    statement: str
    prompt: Optional[list]
    generated: Optional[list]

class Model:
    path: os.PathLike
    scheme: str
    def __init__(self, source: Union[str, os.PathLike, bytes], *, table_bits: Optional[int] = ...,
                 act_frac: Optional[int] = ..., weight_frac: Optional[int] = ...,
                 per_tensor_scales: Optional[bool] = ..., scheme: str = ...) -> None: ...
    @property
    def commitment(self) -> str: ...
    def inspect(self) -> dict: ...
    def prove(self, input: Any, zk: bool = ..., scheme: Optional[str] = ...) -> Proof: ...
    def verify(self, proof: Union[Proof, bytes, str, os.PathLike], scheme: Optional[str] = ...) -> Verified: ...
    def generate(self, prompt: Any, max_new_tokens: int, scheme: Optional[str] = ...) -> tuple: ...
    def train(self, data: Any, loss: str, lr: Union[float, str], batch: int = ..., steps: int = ...,
              prove: bool = ..., lora: Any = ..., out: Optional[Union[str, os.PathLike]] = ...,
              shuffle: Optional[int] = ..., table_bits: Optional[int] = ...,
              act_frac: Optional[int] = ..., weight_frac: Optional[int] = ...) -> Run: ...

class Run:
    dir: os.PathLike
    summary: dict
    @property
    def steps(self) -> int: ...
    @property
    def final_weight_root(self) -> str: ...
    @property
    def proofs(self) -> list: ...
    def verify(self, model: Optional[Union[Model, str, os.PathLike]] = ..., data: Any = ...,
               **statement: Any) -> dict: ...

def verify(proof: Union[Proof, bytes, str, os.PathLike],
           model_or_commitment: Union[Model, str, os.PathLike]) -> Verified: ...
