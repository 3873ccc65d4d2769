#include "core/engine/study/headtable.h"

#include "core/engine/engineerror.h"
#include "core/engine/study/attentiondistance.h"

#include <cmath>
#include <cstdio>

namespace attnviz::engine {
namespace {

// [H]: mean over the patch queries of each row's entropy; attention [H, T, T].
torch::Tensor patchQueryEntropy(const torch::Tensor& attention, int prefix)
{
    const auto a = attention.narrow(1, prefix, attention.size(1) - prefix).to(torch::kFloat64);
    const auto terms = torch::where(a > 0, -a * a.log(), torch::zeros_like(a));  // 0 ln 0 = 0
    return terms.sum(-1).mean(-1);
}

std::string field(double v)
{
    if (std::isnan(v))
        return "";
    char text[32];
    std::snprintf(text, sizeof text, "%.6g", v);
    return text;
}

}  // namespace

std::vector<HeadStats> headTable(const Trace& trace, const TokenStudy& tokens)
{
    if (trace.attention.empty())
        throw EngineError("a head table needs a ViT trace");
    std::vector<HeadStats> rows;
    const int prefix = trace.tokens.prefixTokens();
    for (int l = 0; l < trace.attention.depth(); ++l) {
        const auto a = trace.attention.matrix(l);  // one block's [H, T, T] at a time
        for (int64_t h = 0; h < a.size(0); ++h) {
            // One head at a time: the float64 copies are [T, T], not [H, T, T].
            const auto head = a.narrow(0, h, 1);
            HeadStats s;
            s.layer = l;
            s.head = int(h);
            s.distance = meanAttentionDistance(head, trace.tokens)[0].item<double>();
            s.entropy = patchQueryEntropy(head, prefix)[0].item<double>();
            s.clsOnArtifacts = tokens.clsOnArtifacts[int64_t(l)][h].item<double>();
            s.clsOnRegisters = tokens.clsOnRegisters[int64_t(l)][h].item<double>();
            rows.push_back(s);
        }
    }
    return rows;
}

std::vector<HeadStats> meanHeadTable(const std::vector<std::vector<HeadStats>>& tables)
{
    if (tables.empty())
        throw EngineError("no head table to average");
    auto out = tables.front();
    for (std::size_t t = 1; t < tables.size(); ++t) {
        if (tables[t].size() != out.size())
            throw EngineError("head tables of different models cannot be averaged");
        for (std::size_t i = 0; i < out.size(); ++i) {
            out[i].distance += tables[t][i].distance;
            out[i].entropy += tables[t][i].entropy;
            out[i].clsOnArtifacts += tables[t][i].clsOnArtifacts;
            out[i].clsOnRegisters += tables[t][i].clsOnRegisters;
        }
    }
    const double n = double(tables.size());
    for (auto& row : out) {
        row.distance /= n;
        row.entropy /= n;
        row.clsOnArtifacts /= n;
        row.clsOnRegisters /= n;
    }
    return out;
}

std::string headTableCsv(const std::vector<HeadStats>& rows)
{
    std::string out = "layer,head,distance_px,entropy_nats,cls_on_artifacts,cls_on_registers\n";
    for (const auto& r : rows)
        out += std::to_string(r.layer) + "," + std::to_string(r.head) + "," + field(r.distance) + "," + field(r.entropy)
               + "," + field(r.clsOnArtifacts) + "," + field(r.clsOnRegisters) + "\n";
    return out;
}

}  // namespace attnviz::engine
