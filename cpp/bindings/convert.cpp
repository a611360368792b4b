#include "convert.h"

#include "ember/error.h"

namespace ember::py_convert {

static DType dtype_of(const py::dtype& dt) {
  if (dt.is(py::dtype::of<float>())) return DType::f32;
  if (dt.is(py::dtype::of<double>())) return DType::f64;
  if (dt.is(py::dtype::of<int32_t>())) return DType::i32;
  if (dt.is(py::dtype::of<int64_t>())) return DType::i64;
  char k = dt.kind();
  int64_t size = dt.itemsize();
  if (k == 'f' && size == 4) return DType::f32;
  if (k == 'f' && size == 8) return DType::f64;
  if (k == 'i' && size == 4) return DType::i32;
  if (k == 'i' && size == 8) return DType::i64;
  throw TypeError("expected an array of float32, float64, int32 or int64, received dtype " +
                  std::string(py::str(dt)));
}

Tensor to_tensor(const py::handle& obj) {
  py::array arr = py::array::ensure(obj, py::array::c_style);
  if (!arr) throw TypeError("expected a NumPy array, received " + std::string(py::str(py::type::handle_of(obj))));
  DType dt = dtype_of(arr.dtype());
  Shape shape(arr.shape(), arr.shape() + arr.ndim());
  auto* keep = new py::object(arr);
  std::shared_ptr<void> owner(keep, [](void* p) {
    py::gil_scoped_acquire gil;
    delete static_cast<py::object*>(p);
  });
  return Tensor::view(const_cast<void*>(arr.data()), shape, dt, owner);
}

std::vector<Tensor> to_tensors(const py::sequence& seq) {
  std::vector<Tensor> out;
  for (auto item : seq) out.push_back(to_tensor(item));
  return out;
}

py::array to_array(const Tensor& t) {
  py::dtype dt;
  switch (t.dtype()) {
    case DType::f32: dt = py::dtype::of<float>(); break;
    case DType::f64: dt = py::dtype::of<double>(); break;
    case DType::i32: dt = py::dtype::of<int32_t>(); break;
    case DType::i64: dt = py::dtype::of<int64_t>(); break;
  }
  auto* owner = new std::shared_ptr<void>(t.owner());
  py::capsule cap(owner, [](void* p) { delete static_cast<std::shared_ptr<void>*>(p); });
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  return py::array(dt, shape, {}, t.raw(), cap);
}

Attrs to_attrs(const py::dict& d) {
  Attrs a;
  for (auto [k, v] : d) {
    std::string key = py::str(k);
    if (v.is_none()) continue;
    if (py::isinstance<py::bool_>(v)) a.set(key, v.cast<bool>());
    else if (py::isinstance<py::int_>(v)) a.set(key, v.cast<int64_t>());
    else if (py::isinstance<py::float_>(v)) a.set(key, v.cast<double>());
    else if (py::isinstance<py::str>(v)) a.set(key, v.cast<std::string>());
    else if (py::isinstance<py::sequence>(v)) {
      std::vector<int64_t> ints;
      for (auto e : v.cast<py::sequence>()) ints.push_back(e.cast<int64_t>());
      a.set(key, ints);
    } else {
      throw TypeError("attribute '" + key + "': unsupported value " + std::string(py::repr(v)));
    }
  }
  return a;
}

Shape to_shape(const py::sequence& s) {
  Shape out;
  for (auto e : s) out.push_back(e.is_none() ? kUnknown : e.cast<int64_t>());
  return out;
}

py::tuple from_shape(const Shape& s) {
  py::tuple t(s.size());
  for (size_t i = 0; i < s.size(); ++i)
    t[i] = s[i] < 0 ? py::object(py::none()) : py::object(py::int_(s[i]));
  return t;
}

}  // namespace ember::py_convert
