#pragma once
// Moved: the model family (ModelOptions, train_model) is encore/kinds/family.hpp.
#include "encore/kinds/family.hpp"
