#pragma once

#include "core/engine/model/trace.h"
#include "core/engine/study/artifacttokens.h"

#include <string>
#include <vector>

namespace attnviz::engine {

// One attention head of one block, described by what its weights do on one image.
struct HeadStats {
    int layer = 0, head = 0;
    // Mean attention distance in input pixels (meanAttentionDistance: prefix keys at 0).
    double distance = 0;
    // Mean over the patch queries of the entropy −Σ_j A_ij ln A_ij over all keys, in
    // nats: 0 for a head that looks at one token, ln T for one that looks everywhere.
    double entropy = 0;
    // The CLS query's attention mass on the artifact tokens and on the registers
    // (TokenStudy); NaN without a CLS token (and on registers, without registers).
    double clsOnArtifacts = 0, clsOnRegisters = 0;
};

// Every layer × head of a ViT trace, layer-major.
std::vector<HeadStats> headTable(const Trace& trace, const TokenStudy& tokens);

// The same averaged over the per-image tables of several images (same model): the mean
// of each column, row by row.
std::vector<HeadStats> meanHeadTable(const std::vector<std::vector<HeadStats>>& tables);

// The table as CSV with a header row: layer,head,distance_px,entropy_nats,
// cls_on_artifacts,cls_on_registers (NaN written as an empty field).
std::string headTableCsv(const std::vector<HeadStats>& rows);

}  // namespace attnviz::engine
