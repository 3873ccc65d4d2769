// attnviz-cli: the headless interface. JSON on stdout on success; on failure one line
// on stderr and a non-zero exit (2: bad command line, 1: anything else).
#include "app/cli/arguments.h"
#include "app/cli/commands.h"

#include "core/engine/errormessage.h"
#include "core/engine/model/device.h"

#include <iostream>
#include <map>

namespace {

const char* const kUsage =
    "usage: attnviz-cli <command> [options]   (attnviz-cli --version: version, commit, LibTorch, CUDA)\n"
    "  info MODEL [--heads N] [--input-size N|HxW]\n"
    "  analyze [--vit MODEL] [--cnn MODEL] (--image IMG | --tensor FILE.safetensors)   (neither model: the\n"
    "          shipped vit-shapes and cnn-shapes)\n"
    "          [--device cpu|cuda[:N]] [--top-k K] [--heads N] [--threads N]\n"
    "          [--dump OUT.safetensors [--dump-attention]]\n"
    "          [--text PROMPT ... | [--labels FILE] [--template \"a photo of a {}.\" ...]]  (CLIP / SigLIP: prompts as "
    "classes)\n"
    "          [--method METHOD [--layer L|all] [--head H|mean|max|min|all] [--class C] [--query ROW,COL]\n"
    "           [--discard-ratio X] [--cam-input norm1|residual] [--steps N] [--baseline black|blur]\n"
    "           [--samples N] [--noise X] [--window PX] [--stride PX]\n"
    "           [--out-dir DIR] [--colormap NAME]\n"
    "           [--alpha A] [--upsample nearest|bilinear] [--normalize map|layer] [--keep-mass X] [--no-colorbar]]\n"
    "  train (--arch vit|cnn | --init MODEL_DIR) --data DIR --out MODEL_DIR [--epochs N] [--seed S] [--device D]\n"
    "        [--batch-size B] [--lr X] [--labels fashion-mnist|none|a,b,...] [--limit N] [--threads N] [--no-augment]\n"
    "        [--patch-size P] [--width W] [--depth D] [--mlp-ratio R] [--conv-stem] [--stem-stride S]\n"
    "        (DIR: IDX files or an ImageFolder tree DIR/CLASS/IMAGE of one image size, e.g. a benchmark's DIR/train)\n"
    "  evaluate [--vit MODEL] [--cnn MODEL] --data DIR [--split t10k|train] [--limit N] [--device D]\n"
    "  benchmark make --out DIR --count N [--test-count M] [--seed S] [--easy]   (colour shapes with object masks:\n"
    "        DIR/{train,test}/CLASS/NNNNN.png, DIR/masks/..., DIR/index.json)\n"
    "  audit [--vit MODEL] [--cnn MODEL] (--benchmark DIR | --images DIR [--masks DIR]) [--methods a,b|quick|all]\n"
    "        [--limit N] [--csv FILE] [--tolerance PX_AT_224] [--randomisation-images N] [--seed S] [--no-causal]\n"
    "        [--faithfulness-steps N]   (each method's map against object masks: pointing game, energy, IoU,\n"
    "        deletion/insertion AUC, model-randomisation check; exit 3 when some images or masks were left out)\n"
    "  rf --cnn MODEL   (theoretical receptive field of every layer: size, jump, start in input pixels)\n"
    "  mad --vit MODEL (--image IMG | --images DIR | --tensor FILE) [--renormalize]   (mean attention distance per "
    "head)\n"
    "  erf (--vit MODEL | --cnn MODEL) (--image IMG | --images DIR | --tensor FILE) --layer NAME --at ROW,COL\n"
    "      [--dump OUT.safetensors] [--out-dir DIR] [--batch-size B]   (effective receptive field of one unit)\n"
    "  cka [--vit MODEL] [--cnn MODEL] --images DIR [--batch-size B] [--limit N] [--out-dir DIR]   (linear CKA)\n"
    "  export [--vit MODEL] [--cnn MODEL] (--images DIR | --list FILE) --out DIR [--methods a,b,...]\n"
    "         [--steps N] [--baseline black|blur] [--samples N] [--noise X] [--window PX] [--stride PX]\n"
    "         [--layers all|A-B|L1,L2] [--heads all|mean|max|min|H1,H2] [--faithfulness [--faithfulness-steps N]\n"
    "          [--deletion-substrate blur|zero] [--insertion-substrate blur|zero]] [--batch N] [--workers N]\n"
    "         [--shard I/N] [--resume] [--top-k K] [--model-heads N] [--pca-fit folder|image]\n"
    "         [--text PROMPT ... | [--labels FILE] [--template \"a photo of a {}.\" ...]]   (views of every image:\n"
    "         PNGs + results.jsonl, with --text a class-specific view per prompt; exit 3 when some images were\n"
    "         skipped, each listed in the summary)\n"
    "  skip [--vit MODEL] [--cnn MODEL] (--image IMG | --images DIR | --tensor FILE) [--batch-size B] [--limit N]\n"
    "       (skip-connection strength: residual-stream norm over branch norm per addition)\n"
    "  probe [--vit MODEL] [--cnn MODEL] --data DIR [--test-data DIR | --held-out F] [--train-split S --test-split S]\n"
    "        [--limit N] [--test-limit N] [--batch-size B] [--l2 X] [--iterations N]\n"
    "        (a linear probe per layer; DIR: IDX files or an ImageFolder tree ROOT/CLASS/IMAGE)\n"
    "  localize [--vit MODEL] [--cnn MODEL] --images DIR [--batch-size B] [--limit N]\n"
    "        (CKA of the last layer at each position with the input at every position)\n"
    "  tokens --vit MODEL (--image IMG | --images DIR | --tensor FILE) [--z Z] [--maps] [--csv FILE]\n"
    "        [--batch-size B] [--limit N] [--test-time-register [--register-neurons B:U,...]\n"
    "        [--register-norm X] [--register-block B] [--register-highest B] [--register-top-k K]]\n"
    "        (high-norm artifact tokens, registers, and the head table; with --test-time-register the\n"
    "        register neurons found over the images (or given) and what moving them to an extra token does)\n"
    "  methods [--markdown]   (the view methods: who defined each, which models, layers and heads it takes)\n";
const char* const kOptionsHelp =
    "--threads N: N LibTorch threads and 1 BLAS thread (default: 1 LibTorch thread, BLAS on every core).\n"
    "--input-size N|HxW (info, analyze, erf, mad, cka): run at that resolution instead of the checkpoint's;\n"
    "        a ViT resamples its position embedding (a multiple of its patch size).\n"
    "MODEL is a .safetensors/.pth/.pt/.bin file, a folder with model.safetensors (or pytorch_model.bin) +\n"
    "      config.json, or an open_clip folder (open_clip_model.safetensors / open_clip_pytorch_model.bin +\n"
    "      open_clip_config.json).\n";

using Command = int (*)(const std::vector<std::string>&);

}  // namespace

int main(int argc, char** argv)
{
    using namespace attnviz;
    const std::map<std::string, Command> commands{
        {"info", cli::runInfo},         {"analyze", cli::runAnalyze}, {"train", cli::runTrain},
        {"evaluate", cli::runEvaluate}, {"rf", cli::runRf},           {"mad", cli::runMad},
        {"erf", cli::runErf},           {"cka", cli::runCka},         {"export", cli::runExport},
        {"skip", cli::runSkip},         {"probe", cli::runProbe},     {"localize", cli::runLocalize},
        {"tokens", cli::runTokens},     {"methods", cli::runMethods}, {"benchmark", cli::runBenchmark},
        {"audit", cli::runAudit}};
    if (argc < 2) {
        std::cerr << kUsage << cli::methodUsage() << kOptionsHelp;
        return 2;
    }
    if (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {  // asked for: stdout
        std::cout << kUsage << cli::methodUsage() << kOptionsHelp;
        return 0;
    }
    if (std::string(argv[1]) == "--version") {
        std::cout << engine::versionReport("attnviz-cli");
        return 0;
    }
    const auto it = commands.find(argv[1]);
    if (it == commands.end()) {
        std::cerr << "attnviz-cli: unknown command '" << argv[1] << "' (try --help)\n";
        return 2;
    }
    try {
        engine::configureThreads();
        return it->second(std::vector<std::string>(argv + 2, argv + argc));
    } catch (const cli::UsageError& e) {
        std::cerr << "attnviz-cli " << argv[1] << ": " << e.what() << " (try --help)\n";
        return 2;
    } catch (const std::exception& e) {
        // LibTorch messages carry a stack trace or a second line of context: users get
        // the first line only, as for every other error.
        const auto line = engine::errorLine(e);
        std::cerr << "attnviz-cli " << argv[1] << ": " << line
                  << (engine::isOutOfMemory(line) ? " (try --device cpu, or a smaller model or input)" : "") << "\n";
        return 1;
    }
}
