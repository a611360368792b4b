// Conversions between Python/NumPy values and core types. No logic beyond conversion.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "ember/attrs.h"
#include "ember/tensor.h"

namespace ember::py_convert {

namespace py = pybind11;

// A view of a C-contiguous array of a supported dtype (copied to contiguous when it is not);
// the Tensor keeps the array alive.
Tensor to_tensor(const py::handle& obj);
std::vector<Tensor> to_tensors(const py::sequence& seq);
// A NumPy array viewing the tensor's memory, keeping its owner alive.
py::array to_array(const Tensor& t);
Attrs to_attrs(const py::dict& d);
Shape to_shape(const py::sequence& s);   // None -> kUnknown
py::tuple from_shape(const Shape& s);    // kUnknown -> None

}  // namespace ember::py_convert
