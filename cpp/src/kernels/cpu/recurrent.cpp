// The CPU table of the recurrent family; the kernels live in recurrent_{lstm,gru,simple}.cpp.
#include "kernels/cpu/recurrent_common.h"

namespace ember {
namespace {

const RecurrentKernels cpu_recurrent = {
    {lstm_forward<float>, lstm_backward<float>},
    {gru_forward<float>, gru_backward<float>},
    {simple_rnn_forward<float>, simple_rnn_backward<float>},
    {lstm_forward<double>, lstm_backward<double>},
    {gru_forward<double>, gru_backward<double>},
    {simple_rnn_forward<double>, simple_rnn_backward<double>},
};

}  // namespace

EMBER_REGISTER_KERNELS(RecurrentKernels, Device::cpu, cpu_recurrent);

}  // namespace ember
