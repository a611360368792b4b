// The public C++ API of ember: include this one header.
#pragma once
#include "ember/arena.h"
#include "ember/attrs.h"
#include "ember/dtype.h"
#include "ember/error.h"
#include "ember/graph.h"
#include "ember/op.h"
#include "ember/optimizer.h"
#include "ember/plan.h"
#include "ember/program.h"
#include "ember/shape.h"
#include "ember/tensor.h"
#include "ember/threads.h"
