// Two maps that look at no model, as the audit's baselines (docs/audit.md): how well a
// method localises only means something beside what a map that knows nothing of the
// model scores, and a sanity check must fail them (Adebayo et al., NeurIPS 2018, show
// that an edge detector's map looks as convincing as many attributions).
//
// `centre`: a Gaussian centre prior over the input [H, W], exp(-d^2 / (2 s^2)) with d the
// distance of a pixel from the image centre and s a quarter of the shorter side.
// `edges`: the Sobel gradient magnitude of the input, sqrt(gx^2 + gy^2), of the channel
// mean of the preprocessed image [H, W] (edges replicated at the border).
#include "core/engine/methods/methodtable.h"

namespace attnviz::engine {
namespace F = torch::nn::functional;

ViewMaps centreView(const Classifier&, const Trace& trace, const ViewRequest&)
{
    const auto height = trace.input.size(2), width = trace.input.size(3);
    const double sigma = 0.25 * double(std::min(height, width));
    const auto y = torch::arange(height, torch::kFloat32).sub((double(height) - 1) / 2).square().unsqueeze(1);
    const auto x = torch::arange(width, torch::kFloat32).sub((double(width) - 1) / 2).square().unsqueeze(0);
    return singleMapView((-(y + x) / (2 * sigma * sigma)).exp(), "input", "-");
}

ViewMaps edgesView(const Classifier&, const Trace& trace, const ViewRequest&)
{
    const auto grey = trace.input.to(torch::kCPU, torch::kFloat32).mean(1, /*keepdim=*/true);  // [1, 1, H, W]
    const auto padded = F::pad(grey, F::PadFuncOptions({1, 1, 1, 1}).mode(torch::kReplicate));
    const auto sobelX = torch::tensor({-1.f, 0.f, 1.f, -2.f, 0.f, 2.f, -1.f, 0.f, 1.f}).view({1, 1, 3, 3});
    const auto gx = F::conv2d(padded, sobelX);
    const auto gy = F::conv2d(padded, sobelX.transpose(2, 3).contiguous());
    return singleMapView((gx.square() + gy.square()).sqrt()[0][0], "input", "-");
}

}  // namespace attnviz::engine
