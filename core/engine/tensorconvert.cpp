#include "core/engine/tensorconvert.h"

#include <cstring>

namespace attnviz::engine {
namespace {

torch::ScalarType scalarTypeOf(io::DType type)
{
    switch (type) {
    case io::DType::F64: return torch::kFloat64;
    case io::DType::F32: return torch::kFloat32;
    case io::DType::F16: return torch::kFloat16;
    case io::DType::BF16: return torch::kBFloat16;
    case io::DType::I64: return torch::kInt64;
    case io::DType::I32: return torch::kInt32;
    case io::DType::I16: return torch::kInt16;
    case io::DType::I8: return torch::kInt8;
    case io::DType::U8: return torch::kUInt8;
    case io::DType::Bool: return torch::kBool;
    }
    return torch::kFloat32;
}

}  // namespace

torch::Tensor toTorch(const io::RawTensor& raw)
{
    const auto options = torch::TensorOptions().dtype(scalarTypeOf(raw.dtype));
    if (raw.bytes.empty())
        return torch::empty(raw.shape, options);
    // The deleter owns a reference to the allocation, so the tensor outlives the map.
    auto owner = raw.bytes.shared();
    return torch::from_blob(
        owner.get(), raw.shape, [owner](void*) mutable { owner.reset(); }, options);
}

namespace {

io::RawTensor toRaw(const torch::Tensor& tensor, torch::ScalarType type, io::DType dtype, std::size_t elementBytes)
{
    const auto t = tensor.detach().to(torch::kCPU, type).contiguous();
    io::RawTensor raw;
    raw.dtype = dtype;
    raw.shape.assign(t.sizes().begin(), t.sizes().end());
    raw.bytes = io::ByteBuffer(std::size_t(t.numel()) * elementBytes);
    if (!raw.bytes.empty())
        std::memcpy(raw.bytes.data(), t.data_ptr(), raw.bytes.size());
    return raw;
}

}  // namespace

io::RawTensor toRawF32(const torch::Tensor& tensor)
{
    return toRaw(tensor, torch::kFloat32, io::DType::F32, sizeof(float));
}

io::RawTensor toRawI64(const torch::Tensor& tensor)
{
    return toRaw(tensor, torch::kInt64, io::DType::I64, sizeof(int64_t));
}

}  // namespace attnviz::engine
