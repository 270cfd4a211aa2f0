"""Storage types <-> pandas: one canonical pandas dtype per storage type, and conversion to it.

Canonical forms: ``int64`` -> ``Int64`` (nullable), ``float64`` -> ``float64`` (or the nullable
``Float64`` where the column holds NaN as a value apart from NULL, as Parquet and PostgreSQL can),
``string`` -> ``object`` holding ``str`` or ``None``, ``bool`` -> ``boolean``, ``datetime`` -> naive
``datetime64[ns]`` (time-zone-aware values are converted to UTC first), ``decimal`` -> ``object``
holding ``decimal.Decimal`` or ``None``.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from dbtwin.schema.model import StorageType

PANDAS_DTYPE: dict[StorageType, str] = {
    StorageType.INT64: "Int64",
    StorageType.FLOAT64: "float64",
    StorageType.STRING: "object",
    StorageType.BOOL: "boolean",
    StorageType.DATETIME: "datetime64[ns]",
    StorageType.DECIMAL: "object",
}
#: Arithmetic on decimals of any declared size (the default context keeps 28 digits).
_EXACT = decimal.Context(prec=2000, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


class ConversionError(ValueError):
    """Values that cannot be held by the declared storage type; ``examples`` holds a few of them."""

    def __init__(self, count: int, examples: list[object], reason: str = "") -> None:
        super().__init__(f"{count} value(s) {reason or 'do not fit'}, e.g. {examples[:3]!r}")
        self.count = count
        self.examples = examples
        self.reason = reason


def to_storage(series: pd.Series, dtype: StorageType, scale: int | None = None) -> pd.Series:
    """Convert ``series`` to the canonical pandas form of ``dtype``; raise :class:`ConversionError`
    listing offending values when some cannot be converted without loss. ``scale`` is a decimal
    column's number of digits after the point: floats (generated values) are rounded to it, exact
    values that have more digits are refused."""
    dtype = StorageType(dtype)
    if dtype == StorageType.DECIMAL:
        return _to_decimal_series(series, scale)
    if dtype == StorageType.FLOAT64 and has_nan_values(series):
        return series.astype("Float64")
    present = series.notna()
    if dtype == StorageType.STRING:
        out = series.astype(object).where(present, None)
        return out.map(_to_str, na_action="ignore").astype(object).where(present, None)
    if dtype == StorageType.DATETIME:
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            return series.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            return series.astype("datetime64[ns]")
        converted = pd.to_datetime(series, errors="coerce", utc=True, format="mixed")
        _raise_on_loss(series, converted.notna(), present)
        return converted.dt.tz_localize(None).astype("datetime64[ns]")
    if dtype == StorageType.BOOL:
        if pd.api.types.is_bool_dtype(series.dtype):
            return series.astype("boolean")
        mapped = series.map(_to_bool, na_action="ignore")
        _raise_on_loss(series, mapped.notna(), present)
        return mapped.astype("boolean")
    # numeric
    if dtype == StorageType.INT64 and series.dtype == object:
        return _exact_int64(series, present)
    if pd.api.types.is_bool_dtype(series.dtype):
        numeric = series.astype("float64")
    elif pd.api.types.is_numeric_dtype(series.dtype):
        numeric = series
    else:
        numeric = pd.to_numeric(series.astype(object).where(present, None), errors="coerce")
        nan_text = _nan_text(series)
        _raise_on_loss(series, numeric.notna() | nan_text, present)
        if dtype == StorageType.FLOAT64:
            _refuse_inexact_decimals(series, numeric)
            if nan_text.any():  # text 'NaN' (CSV) is a value, an empty field is NULL
                return pd.Series(
                    pd.arrays.FloatingArray(
                        numeric.to_numpy(np.float64, na_value=np.nan), (~nan_text & numeric.isna()).to_numpy()
                    ),
                    index=series.index,
                )
    if dtype == StorageType.FLOAT64:
        return numeric.astype("float64")
    values = numeric.astype("float64") if not pd.api.types.is_integer_dtype(numeric.dtype) else numeric
    if not pd.api.types.is_integer_dtype(values.dtype):
        arr = values.to_numpy(dtype="float64", na_value=np.nan)
        frac = present.to_numpy() & ~np.isfinite(arr) | (np.mod(np.nan_to_num(arr), 1) != 0)
        frac &= present.to_numpy()
        if frac.any():
            raise ConversionError(int(frac.sum()), series[frac].head(3).tolist(), "are not whole numbers")
        beyond = present.to_numpy() & ((arr >= 2.0**63) | (arr < -(2.0**63)))
        if beyond.any():
            raise ConversionError(int(beyond.sum()), series[beyond].head(3).tolist(), "are beyond the int64 range")
    return values.astype("Int64")


def has_nan_values(series: pd.Series) -> bool:
    """Whether ``series`` is a nullable float array that holds NaN as a value (not as NULL)."""
    if not isinstance(series.dtype, pd.Float64Dtype | pd.Float32Dtype):
        return False
    return bool(np.isnan(series.to_numpy(dtype=np.float64, na_value=0.0)).any())


def nan_values(series: pd.Series) -> np.ndarray:
    """Boolean mask of the NaN values that are not NULL (all False outside nullable float arrays)."""
    if not isinstance(series.dtype, pd.Float64Dtype | pd.Float32Dtype):
        return np.zeros(len(series), dtype=bool)
    return np.isnan(series.to_numpy(dtype=np.float64, na_value=0.0))


def _nan_text(series: pd.Series) -> pd.Series:
    return series.map(lambda v: isinstance(v, str) and v.strip().lower() == "nan").astype(bool)


def _refuse_inexact_decimals(series: pd.Series, numeric: pd.Series) -> None:
    """Decimals declared float64 are kept only where a float64 holds them exactly."""
    values = series.tolist()
    lost = [
        v
        for v, f in zip(values, numeric.tolist(), strict=True)
        if isinstance(v, Decimal) and v.is_finite() and Decimal(repr(f)) != v
    ]
    if lost:
        raise ConversionError(
            len(lost), lost[:3], "are decimals a float64 does not hold exactly (declare the column decimal)"
        )


def _to_decimal_series(series: pd.Series, scale: int | None) -> pd.Series:
    out: list[Decimal | None] = []
    bad: list[object] = []
    reason = "are not finite decimal numbers"
    for value in series.tolist():
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            out.append(None)
            continue
        number = to_decimal(value)
        if number is not None and scale is not None:
            exact = not isinstance(value, float | np.floating)
            rounded = number.quantize(Decimal(1).scaleb(-scale), context=_EXACT)
            if exact and rounded != number:
                number, reason = None, f"have more than {scale} digit(s) after the point"
            else:
                number = rounded
        if number is None:
            bad.append(value)
        out.append(number)
    if bad:
        raise ConversionError(len(bad), bad[:3], reason)
    return pd.Series(out, index=series.index, dtype=object)


def to_decimal(value: object) -> Decimal | None:
    """``value`` as an exact, finite decimal (a float by its shortest repr), or None if it is none."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int | np.integer):
        number = Decimal(int(value))
    elif isinstance(value, float | np.floating):
        number = Decimal(repr(float(value))) if np.isfinite(value) else None
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except decimal.InvalidOperation:
            number = None
    else:
        number = None
    return number if number is not None and number.is_finite() else None


def decimal_digits(value: Any) -> tuple[int, int] | None:
    """The digits of a finite decimal before and after its point; None for anything else."""
    if not (isinstance(value, Decimal) and value.is_finite()):
        return None
    _, digits, exponent = value.as_tuple()
    return max(len(digits) + int(exponent), 0), max(-int(exponent), 0)


def decimal_shape(series: pd.Series) -> tuple[int, int]:
    """(precision, scale) that hold every decimal of ``series``: digits in all, digits after the point."""
    scale = whole = 0
    for value in series.tolist():
        held = decimal_digits(value)
        if held is not None:
            whole, scale = max(whole, held[0]), max(scale, held[1])
    return max(whole + scale, 1), scale


def decimal_size(values: pd.Series, precision: int | None, scale: int | None) -> tuple[int, int]:
    """The precision and scale to declare a decimal column with: as declared, widened to hold every
    value (generated values may have more whole digits than the source's)."""
    held_precision, held_scale = decimal_shape(values)
    scale = held_scale if scale is None else scale
    whole = max(held_precision - held_scale, (precision or 0) - scale, 1)
    return whole + scale, scale


def decimal_text(value: Decimal) -> str:
    """A decimal in plain notation, every digit kept (``0E-10`` as ``0.0000000000``)."""
    return format(value, "f")


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Integers a float64 holds exactly.
EXACT_FLOAT_INT = 2**53


def _exact_int64(series: pd.Series, present: pd.Series) -> pd.Series:
    """Integers from Python objects or text without a detour through float64 (which rounds above
    2**53); values beyond int64 raise :class:`ConversionError` saying so."""
    numeric = pd.to_numeric(series.astype(object).where(present, None), errors="coerce")
    _raise_on_loss(series, numeric.notna(), present)
    if pd.api.types.is_integer_dtype(numeric.dtype):
        return numeric.astype("Int64")
    values = numeric.to_numpy(dtype="float64", na_value=np.nan)
    frac = present.to_numpy() & (np.mod(np.nan_to_num(values), 1) != 0)
    if frac.any():
        raise ConversionError(int(frac.sum()), series[frac].head(3).tolist(), "are not whole numbers")
    if not (np.abs(np.nan_to_num(values)) >= EXACT_FLOAT_INT).any():
        return numeric.astype("Int64")
    exact: list[int | None] = []
    beyond: list[object] = []
    for value, ok in zip(series.tolist(), present.tolist(), strict=True):
        if not ok:
            exact.append(None)
            continue
        number = int(value.strip()) if isinstance(value, str) and value.strip().lstrip("+-").isdigit() else None
        if number is None:
            number = int(value) if float(value).is_integer() else None
        if number is None or not INT64_MIN <= number <= INT64_MAX:
            beyond.append(value)
        exact.append(number)
    if beyond:
        raise ConversionError(len(beyond), beyond[:3], "are integers beyond the int64 range (read them as text)")
    return pd.Series(pd.array(exact, dtype="Int64"), index=series.index)


#: Nanoseconds in a second and in a day: datetimes as numbers count in one of these units.
NANOS_PER_SECOND = 10**9
NANOS_PER_DAY = 86_400 * NANOS_PER_SECOND


def nanoseconds(series: pd.Series) -> np.ndarray:
    """A datetime column as ``float64`` nanoseconds since 1970 (NaN for NULL): the one conversion of
    moments to numbers (callers divide by :data:`NANOS_PER_SECOND` or :data:`NANOS_PER_DAY`)."""
    stamps = series.to_numpy(dtype="datetime64[ns]")
    out = stamps.astype(np.int64).astype(np.float64)
    out[np.isnat(stamps)] = np.nan
    return out


def grid_seconds(series: pd.Series) -> int:
    """The grid a datetime column's values lie on: the largest whole number of seconds that divides a
    day and every value's time since 1970 (86400 for dates, 21600 for 6-hourly readings; 0 when some
    value has a fraction of a second, or there is none)."""
    stamps = series.dropna().to_numpy(dtype="datetime64[ns]").astype(np.int64)
    if not len(stamps):
        return 0
    step = int(np.gcd.reduce(np.unique(stamps) % NANOS_PER_DAY, initial=NANOS_PER_DAY))
    return step // NANOS_PER_SECOND if step % NANOS_PER_SECOND == 0 else 0


def _raise_on_loss(original: pd.Series, converted_ok: pd.Series, present: pd.Series) -> None:
    lost = present.to_numpy() & ~converted_ok.to_numpy()
    if lost.any():
        raise ConversionError(int(lost.sum()), original[lost].head(3).tolist())


def _to_str(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def _to_bool(value: object) -> object:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer | float | np.floating) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None
