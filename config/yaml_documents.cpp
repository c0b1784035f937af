#include "config/yaml_documents.h"

#include <yaml-cpp/eventhandler.h>

#include <sstream>
#include <vector>

namespace espgw::config {
namespace {

// Notes where documents start, and where each one's first node is; builds nothing.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  std::vector<YAML::Mark> first_nodes;  // of the documents that have one
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { node(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { node(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                const std::string&) override {
    node(m);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    node(m);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    node(m);
  }
  void OnMapEnd() override {}

 private:
  void node(const YAML::Mark& m) {
    if (first_nodes.size() < starts.size()) first_nodes.push_back(m);
  }
};

}  // namespace

YamlDocuments load_documents(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts seen;
  while (seen.starts.size() < 2 && parser.HandleNextDocument(seen)) {
  }
  YamlDocuments out;
  if (seen.starts.size() == 2) {
    const YAML::Mark& a = seen.starts[0];
    const YAML::Mark& b = seen.starts[1];
    if (a.pos == b.pos) {
      const char c = a.pos >= 0 && static_cast<size_t>(a.pos) < text.size() ? text[a.pos] : ' ';
      throw YAML::ParserException(
          a, c == ',' ? "unexpected ',' outside [ ] or { }" : "the parser cannot go on here");
    }
    // The line of its first node (where the text is), else of its start.
    out.second_line = (seen.first_nodes.size() == 2 ? seen.first_nodes[1] : b).line + 1;
  }
  if (!seen.starts.empty()) out.first = YAML::Load(text);
  return out;
}

}  // namespace espgw::config
