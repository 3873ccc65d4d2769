#pragma once

// Where the data that ships with attnviz is: the models the project trained (models/), the
// sample images and benchmark scenes, found relative to the running program so that an
// installed copy is relocatable (cmake --install --prefix anywhere):
// - installed: <prefix>/bin/attnviz -> <prefix>/share/attnviz/{models, samples, scenes};
// - a build tree: <repo>/build/bin/attnviz -> <repo>/{models, resources/samples, resources/scenes};
// - else the source tree the program was built from.

#include <string>

namespace attnviz::io {

// A shipped model's folder, e.g. shippedModel("vit-shapes").
std::string shippedModel(const std::string& name);
// A shipped image or folder of them, e.g. shippedResource("scenes/00006-square.png").
std::string shippedResource(const std::string& relative);

}  // namespace attnviz::io
