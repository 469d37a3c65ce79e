"""Tests of te_course._validation: every helper's accepted inputs and every error message."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from te_course import SolverError, TeCourseError
from te_course._validation import (
    MAX_MAGNITUDE,
    as_1d_float,
    as_finite_float,
    as_float_array,
    as_positive_float,
    check_finite,
    check_fraction,
    check_magnitude,
    check_positive,
    check_same_length,
)

# --------------------------------------------------------------------------- errors


def test_error_hierarchy():
    # Students (and callers) may catch ValueError; the package's own errors are ValueErrors.
    assert issubclass(TeCourseError, ValueError)
    assert issubclass(SolverError, TeCourseError)


# --------------------------------------------------------------------------- as_1d_float


@pytest.mark.parametrize(
    "values",
    [[1, 2.5, -3], (1, 2.5, -3), np.array([1, 2.5, -3]), pd.Series([1, 2.5, -3]), np.array([1, 2.5, -3], dtype=object)],
    ids=["list", "tuple", "ndarray", "series", "object-array"],
)
def test_as_1d_float_accepts_what_a_student_types(values):
    out = as_1d_float(values, "prices")
    assert out.dtype == np.float64
    assert out.shape == (3,)
    np.testing.assert_array_equal(out, [1.0, 2.5, -3.0])


def test_as_1d_float_returns_a_copy():
    original = np.array([1.0, 2.0])
    out = as_1d_float(original, "prices")
    out[0] = 99.0
    assert original[0] == 1.0


def test_as_1d_float_keeps_nan_for_later_checks():
    # Conversion only; finiteness is check_finite's job.
    out = as_1d_float([1.0, math.nan], "prices")
    assert math.isnan(out[1])


def test_as_1d_float_allow_empty():
    out = as_1d_float([], "prices", allow_empty=True)
    assert out.shape == (0,)
    assert out.dtype == np.float64


def test_as_1d_float_rejects_empty_by_default():
    with pytest.raises(ValueError, match=r"`prices` is empty; give at least one entry\."):
        as_1d_float([], "prices")


@pytest.mark.parametrize("values", ["1, 2, 3", b"123"], ids=["str", "bytes"])
def test_as_1d_float_rejects_strings(values):
    with pytest.raises(TypeError, match=r"`prices` must be a sequence of numbers, got the string"):
        as_1d_float(values, "prices")


def test_as_1d_float_rejects_dataframe_naming_its_columns():
    frame = pd.DataFrame({"price": [1.0], "quantity": [2.0]})
    with pytest.raises(
        TypeError,
        match=re.escape("`prices` must be one-dimensional; got a DataFrame with columns ['price', 'quantity']."),
    ):
        as_1d_float(frame, "prices")


@pytest.mark.parametrize("values", [["a", "b"], [1.0, None, object()], [{"p": 1}]], ids=["words", "mixed", "dict"])
def test_as_1d_float_rejects_non_numbers(values):
    with pytest.raises(TypeError, match=r"`prices` must contain only numbers; could not convert it"):
        as_1d_float(values, "prices")


@pytest.mark.parametrize(
    ("values", "shape"),
    [(np.ones((2, 2)), "(2, 2)"), (np.ones((1, 2, 3)), "(1, 2, 3)"), (3.0, "()")],
    ids=["2-D", "3-D", "scalar"],
)
def test_as_1d_float_rejects_wrong_dimension(values, shape):
    with pytest.raises(
        ValueError, match=re.escape(f"`prices` must be one-dimensional; got an array of shape {shape}.")
    ):
        as_1d_float(values, "prices")


# --------------------------------------------------------------------------- check_finite


def test_check_finite_passes_finite_values():
    assert check_finite(np.array([0.0, -1e300, 1e300]), "bids", "prices") is None


@pytest.mark.parametrize(
    ("arr", "entry", "shown"),
    [
        ([1.0, math.nan, 3.0], 1, "nan"),
        ([1.0, 2.0, 3.0, math.inf], 3, "inf"),
        ([-math.inf, 2.0], 0, "-inf"),
        ([1.0, math.inf, math.nan], 1, "inf"),  # the first bad entry is named
    ],
)
def test_check_finite_names_argument_and_first_bad_entry(arr, entry, shown):
    with pytest.raises(ValueError, match=re.escape(f"`bids` must contain finite prices; entry {entry} is {shown}.")):
        check_finite(np.array(arr), "bids", "prices")


def test_check_finite_default_wording():
    with pytest.raises(ValueError, match=re.escape("`x` must contain finite values; entry 0 is nan.")):
        check_finite(np.array([math.nan]), "x")


# --------------------------------------------------------------------------- check_positive


def test_check_positive_passes_positive_values():
    assert check_positive(np.array([1e-12, 0.5, 3.0]), "asks", "quantities") is None


@pytest.mark.parametrize(
    ("arr", "entry", "shown"),
    [([1.0, 0.0], 1, "0.0"), ([-2.0, 1.0], 0, "-2.0"), ([1.0, 2.0, -0.0], 2, "-0.0")],
)
def test_check_positive_names_argument_and_entry(arr, entry, shown):
    message = (
        f"`asks` must contain positive quantities; entry {entry} is {shown}. "
        "Leave an order out instead of giving it no quantity."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        check_positive(np.array(arr), "asks", "quantities")


@pytest.mark.parametrize(("bad", "shown"), [(math.nan, "nan"), (math.inf, "inf")])
def test_check_positive_rejects_non_finite_first(bad, shown):
    with pytest.raises(ValueError, match=re.escape(f"`asks` must contain finite quantities; entry 1 is {shown}.")):
        check_positive(np.array([1.0, bad]), "asks", "quantities")


# --------------------------------------------------------------------------- check_fraction


@pytest.mark.parametrize("value", [0, 1, 0.5, 0.25, np.float64(0.75), np.int64(1)])
def test_check_fraction_returns_a_float(value):
    out = check_fraction(value, "k")
    assert isinstance(out, float)
    assert out == float(value)


@pytest.mark.parametrize("value", [-0.1, 1.5, 2, -1e-12, 1 + 1e-12, math.nan, math.inf, -math.inf])
def test_check_fraction_rejects_values_outside_unit_interval(value):
    with pytest.raises(ValueError, match=re.escape(f"`k` must lie between 0 and 1; got {value!r}.")):
        check_fraction(value, "k")


@pytest.mark.parametrize("value", [None, "high", [0.5], {"k": 0.5}], ids=["None", "word", "list", "dict"])
def test_check_fraction_rejects_non_numbers(value):
    with pytest.raises(TypeError, match=re.escape(f"`k` must be a number between 0 and 1; got {value!r}.")):
        check_fraction(value, "k")


# --------------------------------------------------------------------------- check_same_length


@pytest.mark.parametrize(
    "arrays",
    [[np.ones(3), [1, 2, 3], pd.Series([1.0, 2.0, 3.0])], [np.ones(2)], [], [np.ones(0), []]],
    ids=["three-equal", "single", "none", "empty"],
)
def test_check_same_length_passes_equal_lengths(arrays):
    names = [f"a{i}" for i in range(len(arrays))]
    assert check_same_length(arrays, names) is None


def test_check_same_length_names_each_length():
    message = "These inputs must have the same length: `p_kw` has 2, `q_kvar` has 3."
    with pytest.raises(ValueError, match=re.escape(message)):
        check_same_length([np.ones(2), np.ones(3)], ["p_kw", "q_kvar"])


def test_check_same_length_three_inputs_one_different():
    message = "These inputs must have the same length: `a` has 4, `b` has 4, `c` has 1."
    with pytest.raises(ValueError, match=re.escape(message)):
        check_same_length([np.ones(4), [0, 0, 0, 0], [5]], ["a", "b", "c"])


def test_as_1d_float_accepts_a_number_only_when_asked():
    assert as_1d_float(2.5, "a", allow_scalar=True).shape == ()
    with pytest.raises(ValueError, match=r"`a` must be one-dimensional; got an array of shape \(\)"):
        as_1d_float(2.5, "a")
    with pytest.raises(TypeError, match=r"`a` must be a number or a sequence of numbers, got the string"):
        as_1d_float("x", "a", allow_scalar=True)


# --------------------------------------------------------------------------- issue 14: booleans, complex, huge ints


@pytest.mark.parametrize("value", [True, False, np.True_, np.bool_(False)], ids=["True", "False", "np.T", "np.F"])
@pytest.mark.parametrize(
    "check", [check_fraction, as_finite_float, as_positive_float], ids=["check_fraction", "finite", "positive"]
)
def test_scalar_checks_reject_booleans(check, value):
    # k=True used to be read as k = 1: a boolean is not a number here.
    with pytest.raises(TypeError, match=rf"`k` must be a (positive )?number.*; got {re.escape(repr(value))}\."):
        check(value, "k")


@pytest.mark.parametrize("value", [1 + 2j, np.complex128(1 + 0j), 2j], ids=["complex", "np.complex128", "imaginary"])
@pytest.mark.parametrize("check", [check_fraction, as_finite_float, as_positive_float])
def test_scalar_checks_reject_complex_numbers(check, value):
    with pytest.raises(TypeError, match="`k` must be"):
        check(value, "k")


@pytest.mark.parametrize("value", [10**400, -(10**400), 10**5000], ids=["1e400", "-1e400", "1e5000"])
@pytest.mark.parametrize("check", [check_fraction, as_finite_float, as_positive_float])
def test_scalar_checks_name_an_int_beyond_float_range(check, value):
    # float(10**400) raises a bare OverflowError; the message names the argument and its size.
    exponent = "5000" if value == 10**5000 else "400"
    with pytest.raises(ValueError, match=rf"`k` is too large for a float .*got about -?1e{exponent}\."):
        check(value, "k")


@pytest.mark.parametrize(
    ("values", "where"),
    [([1, 10**400], "entry 1 is about 1e400"), ([-(10**309)], "entry 0 is about -1e309"),
     ([[1, 2], [3, 10**400]], r"entry \[1, 1\] is about 1e400"), (np.array([1, 10**400], dtype=object), "entry 1")],
    ids=["list", "negative", "nested", "object-array"],
)
def test_arrays_with_an_int_beyond_float_range_name_the_argument_and_entry(values, where):
    with pytest.raises(ValueError, match=rf"`prices` holds a number too large for a float \({where}"):
        as_float_array(values, "prices")
    if np.ndim(np.asarray(values, dtype=object)) == 1:
        with pytest.raises(ValueError, match="`prices` holds a number too large for a float"):
            as_1d_float(values, "prices")


@pytest.mark.parametrize(
    "values",
    [np.array([1 + 2j, 3]), pd.Series([1 + 0j, 2 + 0j]), [1.0, np.complex128(2 + 1j)], [[1.0], [2j]], 1 + 1j],
    ids=["ndarray", "series", "list-with-np-complex", "nested", "scalar"],
)
def test_complex_input_is_rejected_not_cut_to_its_real_part(values):
    # numpy's asarray(..., dtype=float) keeps the real part with only a ComplexWarning.
    with pytest.raises(TypeError, match=r"`prices` must contain real numbers; got complex numbers"):
        as_float_array(values, "prices")
    with pytest.raises(TypeError, match=r"`prices` must contain real numbers"):
        as_1d_float(values, "prices", allow_scalar=True)


@pytest.mark.parametrize(
    "values",
    [[True, 2.5], np.array([True, False]), pd.Series([True, False]), pd.Series([True, None], dtype="boolean"),
     [[1.0, np.True_]], True],
    ids=["mixed-list", "bool-array", "bool-series", "nullable-boolean", "nested-np-bool", "scalar"],
)
def test_booleans_are_rejected_when_not_allowed(values):
    with pytest.raises(TypeError, match=r"`prices` must contain numbers, not booleans"):
        as_float_array(values, "prices", allow_bool=False)
    if np.ndim(values) <= 1:
        with pytest.raises(TypeError, match=r"`prices` must contain numbers, not booleans"):
            as_1d_float(values, "prices", allow_bool=False, allow_scalar=True)


def test_booleans_are_rejected_unless_the_caller_reads_a_mask():
    # Issue 14: `k=True` or [True, 2.5] where numbers belong is a mistake, so booleans are a
    # TypeError by default; a mask such as an EV's availability opts in and reads them as 0/1.
    with pytest.raises(TypeError, match="`k` must contain numbers, not booleans"):
        as_1d_float([True, 2.5], "k")
    with pytest.raises(TypeError, match="`usage` must contain numbers, not booleans"):
        as_float_array(np.array([[True, False]]), "usage")
    np.testing.assert_array_equal(as_1d_float([True, False, True], "available", allow_bool=True), [1.0, 0.0, 1.0])
    assert as_1d_float(np.array([True]), "available", allow_bool=True).dtype == np.float64


def test_as_float_array_words_a_failed_conversion_as_asked():
    with pytest.raises(TypeError, match=r"`usage` must be a matrix of numbers \(could not convert"):
        as_float_array([[1, "a"]], "usage", expected="a matrix of numbers")
    with pytest.raises(TypeError, match=r"`usage` must contain only numbers; could not convert it"):
        as_float_array([[1, "a"]], "usage")


def test_check_magnitude():
    assert MAX_MAGNITUDE == 1e150
    assert check_magnitude(np.array([0.0, -1e150, 1e150, np.nan]), "bids", "prices") is None
    message = "`bids` must contain prices of at most 1e+150 in absolute value; entry 2 is -1e+151."
    with pytest.raises(ValueError, match=re.escape(message)):
        check_magnitude(np.array([1.0, 2.0, -1e151]), "bids", "prices")
    with pytest.raises(ValueError, match=r"`x` must contain values of at most 10 in absolute value; entry 0 is 11"):
        check_magnitude([11.0], "x", limit=10)


# --------------------------------------------------------------------------- issue 14: fuzz findings


@pytest.mark.parametrize("values", [[[1], [1, 2]], [1, [1, 2]], [[1.0, 2.0], [3.0]]], ids=["rows", "mixed", "short"])
def test_as_1d_float_names_a_ragged_list(values):
    # numpy's "inhomogeneous shape" surfaced as "could not convert it"; the argument is ragged.
    with pytest.raises(TypeError, match=r"`prices` is ragged .*must be a flat list of numbers"):
        as_1d_float(values, "prices")


def test_as_float_array_says_a_ragged_table_is_ragged():
    with pytest.raises(TypeError, match=r"`asks` must contain only numbers; could not convert it: it is ragged"):
        as_float_array([(5, 1), (7,)], "asks")
    np.testing.assert_array_equal(as_float_array([[1, 2], [3, 4]], "usage"), [[1.0, 2.0], [3.0, 4.0]])


def test_as_positive_float_says_finite_for_infinity():
    with pytest.raises(ValueError, match=r"`rho` must be a positive number; got inf: it must be a finite positive"):
        as_positive_float(math.inf, "rho")
    with pytest.raises(ValueError, match=r"`rho` must be a positive number; got -inf\.$"):
        as_positive_float(-math.inf, "rho")
    assert as_positive_float(1e300, "rho") == 1e300
