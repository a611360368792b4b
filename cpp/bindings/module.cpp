// ember._core: the pybind11 module. Conversion only; all logic lives in the core.
#include <pybind11/stl.h>

#include <cstring>

#include "convert.h"
#include "ember/eager.h"
#include "ember/ember.h"

namespace py = pybind11;
using namespace ember;
using namespace ember::py_convert;

static py::tuple meta_tuple(const TensorMeta& m) {
  return py::make_tuple(from_shape(m.shape), dtype_name(m.dtype));
}

static OptimizerConfig to_optimizer_config(const py::dict& d) {
  Attrs a = to_attrs(d);
  OptimizerConfig c;
  c.kind = a.get_str("kind", c.kind);
  c.beta_1 = a.get_float("beta_1", c.beta_1);
  c.beta_2 = a.get_float("beta_2", c.beta_2);
  c.epsilon = a.get_float("epsilon", c.epsilon);
  c.amsgrad = a.get_bool("amsgrad", c.amsgrad);
  c.momentum = a.get_float("momentum", c.momentum);
  c.nesterov = a.get_bool("nesterov", c.nesterov);
  c.rho = a.get_float("rho", c.rho);
  c.centered = a.get_bool("centered", c.centered);
  c.initial_accumulator_value = a.get_float("initial_accumulator_value", c.initial_accumulator_value);
  c.weight_decay = a.get_float("weight_decay", c.weight_decay);
  c.clipnorm = a.get_float("clipnorm", c.clipnorm);
  c.clipvalue = a.get_float("clipvalue", c.clipvalue);
  c.global_clipnorm = a.get_float("global_clipnorm", c.global_clipnorm);
  return c;
}

PYBIND11_MODULE(_core, m) {
  m.doc() = "ember's C++ core";

  static py::exception<Error> base(m, "EmberError", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const IndexError& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const MemoryError& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    } catch (const NumericError& e) {
      PyErr_SetString(PyExc_FloatingPointError, e.what());
    } catch (const Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("set_nan_check", &set_nan_check, py::arg("enabled"));
  m.def("nan_check_enabled", &nan_check_enabled);
  m.def("get_num_threads", &get_num_threads);
  m.def("op_names", [] { return OpRegistry::instance().names(); });
  m.def("infer", [](const std::string& op, const py::dict& attrs, const py::list& metas) {
    std::vector<TensorMeta> in;
    for (auto item : metas) {
      auto t = item.cast<py::tuple>();
      in.push_back({to_shape(t[0].cast<py::sequence>()), dtype_from_name(t[1].cast<std::string>())});
    }
    return meta_tuple(OpRegistry::instance().get(op).infer(in, to_attrs(attrs)));
  }, "Shape and dtype of an op's output: infer(op, attrs, [(shape, dtype), ...]).");
  m.def("run_op", [](const std::string& op, const py::dict& attrs, const py::sequence& inputs,
                     uint64_t seed) {
    return to_array(run_op(op, to_attrs(attrs), to_tensors(inputs), seed));
  }, py::arg("op"), py::arg("attrs"), py::arg("inputs"), py::arg("seed") = 0,
     "Runs one op eagerly on NumPy arrays.");

  py::class_<Graph, std::shared_ptr<Graph>>(m, "Graph")
      .def(py::init<>())
      .def("add_input", [](Graph& g, const py::sequence& shape, const std::string& dtype,
                           const std::string& name) {
        return g.add_input(to_shape(shape), dtype_from_name(dtype), name);
      })
      .def("add_param", [](Graph& g, int index, const py::sequence& shape, const std::string& dtype,
                           const std::string& name) {
        return g.add_param(index, to_shape(shape), dtype_from_name(dtype), name);
      })
      .def("add_constant", [](Graph& g, const py::array& value, const std::string& name) {
        Tensor v = to_tensor(value);
        Tensor own(v.shape(), v.dtype());
        std::memcpy(own.raw(), v.raw(), v.nbytes());
        return g.add_constant(own, name);
      })
      .def("add_op", [](Graph& g, const std::string& op, const py::dict& attrs,
                        const std::vector<int>& inputs, const std::string& name) {
        return g.add_op(op, to_attrs(attrs), inputs, name);
      })
      .def("meta", [](const Graph& g, int id) { return meta_tuple(g.node(id).meta); })
      .def("__len__", &Graph::size);

  py::class_<ParamArena, std::shared_ptr<ParamArena>>(m, "ParamArena")
      .def(py::init([](const std::string& dtype, const std::vector<py::sequence>& shapes) {
        std::vector<Shape> s;
        for (auto& x : shapes) s.push_back(to_shape(x));
        return std::make_shared<ParamArena>(dtype_from_name(dtype), s);
      }))
      .def("value", [](const ParamArena& a, int i) { return to_array(a.value(i)); })
      .def("grad", [](const ParamArena& a, int i) { return to_array(a.grad(i)); })
      .def("values", [](const ParamArena& a) { return to_array(a.values()); })
      .def("grads", [](const ParamArena& a) { return to_array(a.grads()); })
      .def("set_trainable", &ParamArena::set_trainable)
      .def("trainable", [](const ParamArena& a, int i) { return a.segment(i).trainable; })
      .def("__len__", &ParamArena::count)
      .def_property_readonly("total", &ParamArena::total);

  py::class_<Optimizer, std::shared_ptr<Optimizer>>(m, "Optimizer")
      .def(py::init([](const py::dict& cfg) { return std::make_shared<Optimizer>(to_optimizer_config(cfg)); }))
      .def("step", &Optimizer::step, py::arg("arena"), py::arg("lr"))
      .def_property("iterations", &Optimizer::iterations, &Optimizer::set_iterations)
      .def("slots", [](Optimizer& o) {
        py::list out;
        for (auto& t : o.slots()) out.append(to_array(t));
        return out;
      })
      // Restores slots saved with a model; checked against the arena on the next step.
      .def("set_slots", [](Optimizer& o, const py::sequence& arrays) {
        std::vector<Tensor> slots;
        for (const Tensor& t : to_tensors(arrays)) {
          Tensor copy(t.shape(), t.dtype());
          std::memcpy(copy.raw(), t.raw(), t.size() * dtype_size(t.dtype()));
          slots.push_back(copy);
        }
        o.slots() = std::move(slots);
      });

  py::class_<Plan>(m, "Plan")
      .def(py::init([](const Graph& g, std::vector<int> feeds, std::vector<int> fetch,
                       std::vector<int> seeds, std::vector<int> wrt, bool param_grads, bool training,
                       const std::vector<py::sequence>& feed_shapes, const ParamArena* arena) {
             PlanSpec s{feeds, fetch, seeds, wrt, param_grads, training};
             std::vector<Shape> shapes;
             for (auto& x : feed_shapes) shapes.push_back(to_shape(x));
             return std::make_unique<Plan>(g, s, shapes, arena);
           }),
           py::arg("graph"), py::arg("feeds"), py::arg("fetch"), py::arg("seeds"), py::arg("wrt"),
           py::arg("param_grads"), py::arg("training"), py::arg("feed_shapes"),
           py::arg("arena").none(true), py::keep_alive<1, 2>(), py::keep_alive<1, 10>())
      .def("run", [](Plan& p, const py::sequence& feeds, const ParamArena* arena,
                     const py::sequence& seed_grads, uint64_t seed) {
             std::vector<Tensor> grads;
             for (auto g : seed_grads) grads.push_back(g.is_none() ? Tensor() : to_tensor(g));
             p.run(to_tensors(feeds), arena, grads, seed);
           }, py::arg("feeds"), py::arg("arena").none(true), py::arg("seed_grads"), py::arg("seed"))
      .def("value", [](const Plan& p, int id) { return to_array(p.value(id)); })
      .def("grad", [](const Plan& p, int id) { return to_array(p.grad(id)); })
      .def_property_readonly("workspace_bytes", &Plan::workspace_bytes)
      .def_property_readonly("naive_bytes", &Plan::naive_bytes);

  py::class_<Program>(m, "Program")
      .def(py::init([](std::shared_ptr<Graph> g, std::shared_ptr<ParamArena> arena,
                       std::vector<int> inputs, std::vector<int> targets, std::vector<int> outputs,
                       int loss, std::vector<int> metrics) {
             return std::make_unique<Program>(g, arena, ProgramSpec{inputs, targets, outputs, loss, metrics});
           }),
           py::arg("graph"), py::arg("arena"), py::arg("inputs"), py::arg("targets"),
           py::arg("outputs"), py::arg("loss"), py::arg("metrics"))
      .def("set_optimizer", &Program::set_optimizer)
      .def("set_seed", &Program::set_seed)
      .def_property_readonly("seed", &Program::seed)
      .def_property("steps", &Program::steps, &Program::set_steps)
      // The steps release the GIL while C++ runs, so Python threads (an input pipeline's map
      // and prefetch) prepare the next batch meanwhile. The tensors view the NumPy arrays,
      // which the caller's arguments keep alive.
      .def("train_step", [](Program& p, const py::sequence& x, const py::sequence& y, double lr) {
        std::vector<Tensor> xs = to_tensors(x), ys = to_tensors(y);
        py::gil_scoped_release release;
        return p.train_step(xs, ys, lr);
      })
      .def("test_step", [](Program& p, const py::sequence& x, const py::sequence& y) {
        std::vector<Tensor> xs = to_tensors(x), ys = to_tensors(y);
        py::gil_scoped_release release;
        return p.test_step(xs, ys);
      })
      .def("predict_step", [](Program& p, const py::sequence& x) {
        std::vector<Tensor> xs = to_tensors(x), outs;
        {
          py::gil_scoped_release release;
          outs = p.predict_step(xs);
        }
        py::list out;
        for (auto& t : outs) out.append(to_array(t));
        return out;
      })
      .def_property_readonly("plan_count", &Program::plan_count);
}
